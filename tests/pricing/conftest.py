"""Make `import pricing` find the package, not this test folder.

While `tests/` is no package, pytest's default import mode puts it on sys.path (for
tests/conftest.py); from there
the folder `tests/pricing/` looks like a namespace package named `pricing`, and namespace
packages found on sys.path shadow the editable install of the real one. With the
repository root first on sys.path the real package wins.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
_shadow = sys.modules.get("pricing")
if _shadow is not None and getattr(_shadow, "__file__", None) is None:
    del sys.modules["pricing"]
