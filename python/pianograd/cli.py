"""The `pianograd` command line: the one CLI of the project (later issues add subcommands here).

    pianograd info [--self-test]        version, build options, SIMD ISAs, threads, CUDA; the kernel self-test
    pianograd bench [--filter REGEX]    runs the kernel microbenchmarks and prints a summary table
    pianograd render in.mid out.wav [--preset P] [--sr 44100]
                                        renders a MIDI file with the differentiable piano
    pianograd fit-note note.wav --key 60 [--out-preset p.safetensors] [--steps N]
                                        fits one key to a recorded note, prints distances before/after
    pianograd data ...                  the data pipeline (pianograd.data: catalog, prepare, render...)
    pianograd transcribe in.wav out.mid transcribes piano audio with the shipped model
    pianograd train transcription ...   trains the transcriber (pianograd.transcription)
    pianograd eval --data D [--model M] scores a transcriber; JSON + Markdown + PNG report
    pianograd experiment --out R        the sample-efficiency experiment (h; `experiment omr --config C`: g's)
    pianograd train lm --config C       trains the motion language model (pianograd.lm)
    pianograd lm eval --midi DIR        scores MIDI files with the motion LM and its baselines
    pianograd generate out.mid          continues a prompt with the motion LM (--wav renders it)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
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
        ("ISAs this CPU supports", ", ".join(_core.supported_isas())),
        ("threads", str(_core.num_threads())),
        ("CUDA built", "yes" if b["cuda"] else "no"),
        ("CUDA available", "yes" if _core.cuda_available() else "no"),
        ("MPI / NCCL built", f"{'yes' if _core.mpi_built() else 'no'} / {'yes' if _core.nccl_built() else 'no'}"
                             f"{' (launched by MPI)' if _core.launched_by_mpi() else ''}"),
        ("registered ops", str(len(_core.registered_ops()))),
        ("python", f"{platform.python_version()} ({sys.executable})"),
        ("numpy", numpy.__version__),
    ]
    req = _core.isa_request()
    if req["name"]:
        rows.insert(8, ("PIANOGRAD_ISA", req["name"] + ("" if req["honoured"] else " (not honoured)")))
    tests = []
    if args.self_test or args.all_isas:
        # The conformance suite (kernels/cpu/conformance.h) on the ISA in use, or on every one.
        for name in _core.supported_isas() if args.all_isas else [_core.active_isa()]:
            tests.append(_core.self_test(name, args.full))
    if args.json:
        out: Dict[str, Any] = {k: v for k, v in rows}
        if tests:
            out["self_test"] = tests
        print(json.dumps(out, indent=2))
    else:
        width = max(len(k) for k, _ in rows)
        for k, v in rows:
            print(f"{k:<{width}}  {v}")
        for t in tests:
            print(f"self-test {t['summary']}")
    return 0 if all(t["ok"] for t in tests) else 1


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
    from . import _core

    isas = [None]  # the active ISA (PIANOGRAD_ISA, else the CPU's best)
    if args.isa:
        isas = _core.supported_isas() if args.isa == "all" else args.isa.split(",")
    reports: Dict[str, Any] = {}
    for isa in isas:
        cmd = [str(exe), "--benchmark_format=json", f"--benchmark_min_time={args.min_time}"]
        if isa:
            cmd.append(f"--isa={isa}")
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
        reports[report.get("context", {}).get("isa", isa or "?")] = report
    if args.json:
        print(json.dumps(reports if args.isa else next(iter(reports.values())), indent=2))
        return 0
    for isa, report in reports.items():
        rows = summarize(report)
        if not rows:
            print(f"no benchmark matched filter {args.filter!r}")
            continue
        ctx = report.get("context", {})
        print(f"{ctx.get('host_name', '')}  {ctx.get('num_cpus', '?')} CPUs @ {ctx.get('mhz_per_cpu', '?')} MHz"
              f"  ISA {isa}  ({ctx.get('library_build_type', '')} benchmark library)")
        print_table(["benchmark", "time", "cpu", "iterations", "throughput"], rows)
    return 0


def _load_piano(preset: Optional[str], sr: Optional[float]) -> Any:
    """A preset (or the concert grand) whose impulse responses are sampled at `sr`."""
    from . import _core

    if preset is None:
        return _core.Piano(sample_rate=sr or 16000.0)
    piano = _core.Piano.load(preset)
    if sr and abs(piano.ir_sample_rate - sr) > 1e-6 * sr:
        # The body/room impulse responses are tabulated at one rate; another rate needs new ones.
        print(f"note: {preset} has impulse responses at {piano.ir_sample_rate:g} Hz; using the default "
              f"body/room responses at {sr:g} Hz", file=sys.stderr)
        piano.set_default_irs(sr)
    return piano


def _cmd_render(args: argparse.Namespace) -> int:
    from . import _core

    t0 = time.perf_counter()
    perf = _core.read_midi(args.midi)
    if len(perf) == 0:
        print(f"pianograd render: {args.midi} holds no piano notes", file=sys.stderr)
        return 1
    piano = _load_piano(args.preset, args.sr)
    sr = args.sr or piano.ir_sample_rate
    print(f"{args.midi}: {len(perf)} notes, {len(perf.pedal)} pedal points, {perf.duration:.2f} s "
          f"(read in {time.perf_counter() - t0:.2f} s)", file=sys.stderr)
    print(f"rendering at {sr:g} Hz ...", file=sys.stderr, flush=True)
    t1 = time.perf_counter()
    with _no_grad():
        audio = piano.render(perf, sample_rate=sr, tail_seconds=args.tail, knock=not args.no_knock,
                             body=not args.no_body, room=not args.no_room).numpy()
    dt = time.perf_counter() - t1
    seconds = audio.size / sr
    peak = float(abs(audio).max()) if audio.size else 0.0
    if args.peak > 0 and peak > 0:  # normalise to the requested peak (the model's level is arbitrary)
        audio = audio * (args.peak / peak)
    _core.write_audio(args.out, audio, int(round(sr)), format=args.format, clipping="clip")
    print(f"rendered {seconds:.2f} s of audio in {dt:.2f} s ({seconds / max(dt, 1e-9):.1f}x real time), "
          f"peak {peak:.3g}{' normalised to %g' % args.peak if args.peak > 0 else ''}", file=sys.stderr)
    print(f"wrote {args.out} ({audio.size} samples, {int(round(sr))} Hz, {args.format})")
    return 0


def _no_grad() -> Any:
    from . import no_grad

    return no_grad()


def _cmd_fit_note(args: argparse.Namespace) -> int:
    from . import _core

    every = max(1, args.steps // 10)

    def on_step(step: int, loss: float) -> None:
        if not args.quiet and (step % every == 0 or step == args.steps - 1):
            print(f"  step {step:4d}  loss {loss:.4f}", file=sys.stderr, flush=True)

    print(f"fitting key {args.key} to {args.audio} ({args.steps} steps) ...", file=sys.stderr, flush=True)
    try:
        r = _core.fit_note_file(args.audio, args.key, steps=args.steps, duration=args.duration,
                                velocity=args.velocity, fit_rate=args.sr or 0.0, preset=args.preset,
                                max_partials=args.max_partials, on_step=on_step)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(r.summary())
    if args.out_preset:
        r.save_preset(args.out_preset)
        print(f"wrote preset {args.out_preset}")
    if args.audio_dir:
        d = Path(args.audio_dir)
        d.mkdir(parents=True, exist_ok=True)
        r.write_audio_files(d / "before.wav", d / "after.wav", d / "target.wav")
        print(f"wrote {d}/before.wav, after.wav, target.wav")
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from .data.cli import main as data_main

    return int(data_main(args.args) or 0)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pianograd", description="pianograd: autodiff engine and differentiable piano.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="version, build options, SIMD ISA in use, threads, CUDA availability")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.add_argument("--self-test", action="store_true",
                      help="check every CPU kernel on the ISA in use against its scalar reference (about 0.3 s); "
                           "exit 1 on a mismatch")
    info.add_argument("--all-isas", action="store_true", help="the self-test on every ISA this CPU supports")
    info.add_argument("--full", action="store_true", help="the self-test's full sweep: every tail size and the "
                                                          "large ones (a few seconds per ISA)")
    info.set_defaults(func=_cmd_info)
    bench = sub.add_parser("bench", help="run the kernel microbenchmarks and print a summary table")
    bench.add_argument("--filter", "-f", default="", help="regex over benchmark names (Google Benchmark filter)")
    bench.add_argument("--min-time", type=float, default=0.1, help="seconds per benchmark (default 0.1)")
    bench.add_argument("--exe", default=None, help="path to pianograd_bench")
    bench.add_argument("--json", action="store_true", help="print the full JSON report instead of the table")
    bench.add_argument("--isa", default=None,
                       help="run under this ISA (scalar, sse2, avx2, avx512), a comma list, or 'all' the CPU supports")
    bench.set_defaults(func=_cmd_bench)
    render = sub.add_parser("render", help="render a MIDI file to audio with the differentiable piano")
    render.add_argument("midi", help="input Standard MIDI File")
    render.add_argument("out", help="output audio file (.wav, .flac, .aiff)")
    render.add_argument("--preset", default=None, help="piano preset (.safetensors); default: concert grand")
    render.add_argument("--sr", type=float, default=None,
                        help="sample rate in Hz (default: the preset's, 16000 for the concert grand)")
    render.add_argument("--tail", type=float, default=1.0, help="seconds kept after the last event (default 1)")
    render.add_argument("--peak", type=float, default=0.9,
                        help="normalise the peak to this level (default 0.9; 0 keeps the model's level)")
    render.add_argument("--format", default="pcm16", choices=["pcm16", "pcm24", "float32"])
    render.add_argument("--no-knock", action="store_true", help="leave out the hammer knock")
    render.add_argument("--no-body", action="store_true", help="leave out the soundboard/body response")
    render.add_argument("--no-room", action="store_true", help="leave out the room response")
    render.set_defaults(func=_cmd_render)
    fit = sub.add_parser("fit-note", help="fit one key of the piano to a recording of a single note")
    fit.add_argument("audio", help="audio file of one note (any format libsndfile reads)")
    fit.add_argument("--key", type=int, required=True, help="MIDI key of the note (21..108)")
    fit.add_argument("--steps", type=int, default=200, help="Adam steps (default 200)")
    fit.add_argument("--duration", type=float, default=1.0, help="seconds fitted from the onset (default 1)")
    fit.add_argument("--velocity", type=float, default=80.0, help="strike velocity of the fit (default 80)")
    fit.add_argument("--max-partials", type=int, default=24, help="partials per string (default 24)")
    fit.add_argument("--sr", type=float, default=None, help="fit rate in Hz (default: the preset's, 16000)")
    fit.add_argument("--preset", default=None, help="preset to start from (default: concert grand)")
    fit.add_argument("--out-preset", default=None, help="write the fitted preset here (.safetensors)")
    fit.add_argument("--audio-dir", default=None, help="write before/after/target WAVs into this folder")
    fit.add_argument("--quiet", "-q", action="store_true", help="no per-step progress")
    fit.set_defaults(func=_cmd_fit_note)
    data = sub.add_parser("data", help="data pipeline: `pianograd data --help` lists its subcommands",
                          add_help=False)
    data.add_argument("args", nargs=argparse.REMAINDER)
    data.set_defaults(func=_cmd_data)
    from .lm.cli import add_parsers as add_lm_parsers
    from .transcription.cli import add_parsers

    from .omr.cli import add_parsers as add_omr_parsers

    add_parsers(sub)
    add_lm_parsers(sub)
    add_omr_parsers(sub)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "data":  # everything after `data` belongs to pianograd.data's own parser
        return _cmd_data(argparse.Namespace(args=argv[1:]))
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
    except (ValueError, TypeError, OSError) as e:  # bad input or files: the engine's message, no traceback
        from .distributed import abort_job

        abort_job(f"pianograd {args.command}: error: {e}")  # under mpirun: every rank stops now
        print(f"pianograd {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
