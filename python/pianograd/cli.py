"""The `pianograd` command line: the one CLI of the project (later issues add subcommands here).

    pianograd info                      version, build options, SIMD ISA, threads, CUDA
    pianograd bench [--filter REGEX]    runs the kernel microbenchmarks and prints a summary table
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence


def _cmd_info(args: argparse.Namespace) -> int:
    import numpy

    from . import _core

    b = _core.build_info()
    rows = [
        ("pianograd", _core.__version__),
        ("module", str(Path(_core.__file__).resolve())),
        ("build type", b["build_type"]),
        ("compiler", b["compiler"]),
        ("pybind11", b["pybind11"]),
        ("OpenMP", str(b["openmp"])),
        ("SIMD ISA in use", _core.active_isa()),
        ("best ISA of this CPU", _core.best_isa()),
        ("threads", str(_core.num_threads())),
        ("CUDA built", "yes" if b["cuda"] else "no"),
        ("CUDA available", "yes" if _core.cuda_available() else "no"),
        ("registered ops", str(len(_core.registered_ops()))),
        ("python", f"{platform.python_version()} ({sys.executable})"),
        ("numpy", numpy.__version__),
    ]
    if args.json:
        print(json.dumps({k: v for k, v in rows}, indent=2))
        return 0
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


def _find_bench(explicit: Optional[str]) -> Optional[Path]:
    """The pianograd_bench executable: --exe, $PIANOGRAD_BENCH, next to this build, ./build, PATH."""
    if explicit:  # an explicit path is used as given, never silently replaced by another build
        p = Path(explicit)
        return p if p.is_file() and os.access(p, os.X_OK) else None
    candidates: List[Path] = []
    if os.environ.get("PIANOGRAD_BENCH"):
        candidates.append(Path(os.environ["PIANOGRAD_BENCH"]))
    here = Path(__file__).resolve()
    # Development layout: <build>/python/pianograd/_core*.so -> <build>/bench/pianograd_bench.
    from . import _core

    core_dir = Path(_core.__file__).resolve().parent
    candidates.append(core_dir.parent.parent / "bench" / "pianograd_bench")
    candidates.append(here.parent.parent.parent / "build" / "bench" / "pianograd_bench")
    candidates.append(Path.cwd() / "build" / "bench" / "pianograd_bench")
    found = shutil.which("pianograd_bench")
    if found:
        candidates.append(Path(found))
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    return None


def _fmt_time(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def _fmt_rate(v: float, unit: str) -> str:
    for prefix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{v / scale:.3g} {prefix}{unit}"
    return f"{v:.3g} {unit}"


_TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def summarize(report: Dict[str, Any]) -> List[List[str]]:
    """Rows (name, time, cpu, iterations, throughput) from Google Benchmark's JSON report."""
    rows = []
    for b in report.get("benchmarks", []):
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "mean":
            continue
        scale = _TO_NS.get(b.get("time_unit", "ns"), 1.0)
        rate = ""
        if "bytes_per_second" in b:
            rate = _fmt_rate(b["bytes_per_second"], "B/s")
        elif "items_per_second" in b:
            rate = _fmt_rate(b["items_per_second"], "items/s")
        rows.append([b["name"], _fmt_time(b["real_time"] * scale), _fmt_time(b["cpu_time"] * scale),
                     str(b.get("iterations", "")), rate])
    return rows


def print_table(header: Sequence[str], rows: List[List[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))


def _cmd_bench(args: argparse.Namespace) -> int:
    exe = _find_bench(args.exe)
    if exe is None:
        print("pianograd bench: pianograd_bench not found; build it (cmake --build build --target "
              "pianograd_bench) or pass --exe PATH / set $PIANOGRAD_BENCH", file=sys.stderr)
        return 2
    cmd = [str(exe), "--benchmark_format=json", f"--benchmark_min_time={args.min_time}"]
    if args.filter:
        cmd.append(f"--benchmark_filter={args.filter}")
    print(f"running {' '.join(cmd)}", file=sys.stderr)
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if proc.returncode != 0:
        print(f"pianograd bench: {exe.name} exited with {proc.returncode}", file=sys.stderr)
        return proc.returncode
    report = json.loads(proc.stdout) if proc.stdout.strip() else {}
    rows = summarize(report)
    if args.json:
        print(json.dumps(report, indent=2))
    elif not rows:
        print(f"no benchmark matched filter {args.filter!r}")
    else:
        ctx = report.get("context", {})
        print(f"{ctx.get('host_name', '')}  {ctx.get('num_cpus', '?')} CPUs @ {ctx.get('mhz_per_cpu', '?')} MHz"
              f"  ({ctx.get('library_build_type', '')} benchmark library)")
        print_table(["benchmark", "time", "cpu", "iterations", "throughput"], rows)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pianograd", description="pianograd: autodiff engine and differentiable piano.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="version, build options, SIMD ISA in use, threads, CUDA availability")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=_cmd_info)
    bench = sub.add_parser("bench", help="run the kernel microbenchmarks and print a summary table")
    bench.add_argument("--filter", "-f", default="", help="regex over benchmark names (Google Benchmark filter)")
    bench.add_argument("--min-time", type=float, default=0.1, help="seconds per benchmark (default 0.1)")
    bench.add_argument("--exe", default=None, help="path to pianograd_bench")
    bench.add_argument("--json", action="store_true", help="print the full JSON report instead of the table")
    bench.set_defaults(func=_cmd_bench)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `pianograd info | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
