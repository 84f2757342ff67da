"""Konzeptrabatt charges per second through ``POST /platform/events`` next to a bare aiohttp
handler that only checks the signature (the benchmark is bench/platform_charges.py).

    .venv/bin/python bench/platform.py [--events 2000] [--concurrency 10]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

A script in bench/ has bench/ first on its import path, so ``import platform`` in it (uuid,
asyncio and run_all.py do that) finds this file. Imported under that name it therefore
becomes the standard library's module; only run as a script is it the benchmark.
"""

import sys

if __name__ == "platform":
    import sysconfig
    from pathlib import Path as _Path

    _STDLIB = _Path(sysconfig.get_paths()["stdlib"], "platform.py")
    exec(compile(_STDLIB.read_text(encoding="utf-8"), str(_STDLIB), "exec"))
else:
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from platform_charges import main

    if __name__ == "__main__":
        main()
