"""The packages import each other only downwards, and only bot/ and handlers/ know Bolt.

pricing/ and store/ import none of our packages; notifications/ may use store/ and the pure
pricing/ (German formats and the Slack escape live there, for every layer); handlers/ use
store/ and pricing/; bot/ is the composition root and imports everything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("bot", "handlers", "pricing", "notifications", "store")
ALLOWED = {
    "pricing": {"pricing"},
    "store": {"store"},
    "notifications": {"notifications", "store", "pricing"},
    "handlers": {"handlers", "store", "pricing"},
    "bot": set(OURS),
}
BOLT_ALLOWED = {"bot", "handlers"}


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a module imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", OURS)
def test_it_imports_only_the_layers_below(package: str) -> None:
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(package)
        for name in imported_packages(path) & set(OURS)
        if name not in ALLOWED[package]
    }
    assert wrong == set()


@pytest.mark.parametrize("package", sorted(set(OURS) - BOLT_ALLOWED))
def test_it_keeps_slack_bolt_in_bot_and_handlers(package: str) -> None:
    assert {
        str(path.relative_to(ROOT))
        for path in modules(package)
        if "slack_bolt" in imported_packages(path)
    } == set()


def test_it_sees_the_imports_it_checks() -> None:
    # The guards above can fail: the composition root does import every layer.
    seen = set().union(*(imported_packages(path) for path in modules("bot")))
    assert set(OURS) <= seen
