"""Makes a build tree's pianograd importable from the running interpreter's environment (.venv),
without copying: a .pth file naming <build>/python and a `pianograd` console script, the same
entry point `pip install .` would create. Idempotent; `make test` / `make demo` run it after every
build, so a rebuild is a plain incremental ninja run.

    .venv/bin/python python/dev_install.py build/python
"""
from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

PTH_NAME = "pianograd-dev.pth"
SCRIPT = """#!{python}
# Written by python/dev_install.py: the `pianograd` entry point of the development build.
import sys
from pianograd.cli import main
if __name__ == "__main__":
    sys.exit(main())
"""


def write_if_changed(path: Path, text: str, mode: int = 0o644) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    os.chmod(path, mode)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    pkg_root = Path(sys.argv[1]).resolve()
    if not (pkg_root / "pianograd").is_dir():
        print(f"dev_install: {pkg_root}/pianograd does not exist (build with -DPIANOGRAD_PYTHON=ON)", file=sys.stderr)
        return 1
    if sys.prefix == sys.base_prefix:
        print("dev_install: refusing to touch a non-virtual environment; run it with .venv/bin/python", file=sys.stderr)
        return 1
    site = Path(sysconfig.get_paths()["purelib"])
    installed = site / "pianograd"
    if installed.exists():
        print(f"dev_install: note: {installed} (a pip-installed pianograd) shadows the build tree; "
              "`pip uninstall pianograd` to use the development build", file=sys.stderr)
    write_if_changed(site / PTH_NAME, f"{pkg_root}\n")
    scripts = Path(sysconfig.get_paths()["scripts"])
    write_if_changed(scripts / "pianograd", SCRIPT.format(python=sys.executable), 0o755)
    return 0


if __name__ == "__main__":
    sys.exit(main())
