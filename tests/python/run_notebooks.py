"""Executes every notebook under the given folders headless (nbclient) and fails on the first error.
Run by `make test` after pytest:  .venv/bin/python tests/python/run_notebooks.py examples/notebooks
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def run(path: Path, timeout: int = 600) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()


def main(argv: list[str]) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")  # no display: plots render off-screen
    folders = [Path(a) for a in argv] or [Path(__file__).resolve().parents[2] / "examples" / "notebooks"]
    notebooks = sorted(p for f in folders for p in (f.rglob("*.ipynb") if f.is_dir() else [f])
                       if ".ipynb_checkpoints" not in p.parts)
    if not notebooks:
        print("run_notebooks: no notebooks found", file=sys.stderr)
        return 1
    failed = 0
    for nb in notebooks:
        t0 = time.perf_counter()
        try:
            run(nb)
            print(f"notebook {nb}: ok ({time.perf_counter() - t0:.1f} s)")
        except Exception as e:  # nbclient raises CellExecutionError with the cell's traceback
            failed += 1
            print(f"notebook {nb}: FAILED\n{e}", file=sys.stderr)
    print(f"notebooks: {len(notebooks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
