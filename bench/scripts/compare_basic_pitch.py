"""Our transcriber and Spotify's basic-pitch side by side on one split of a prepared data set (issue 15,
item 7): both transcribe the same audio files, both are scored by the same C++ metrics (mir_eval's
definitions: note onset, +offset, +velocity, frame F1; sustain pedal event F1 where a model predicts the
pedal), and both are timed per file, from the audio file to notes, on the same number of threads.

basic-pitch runs through its ONNX model (no TensorFlow needed). It is not a dependency of pianograd; put it
into the environment that runs this script, e.g.

    python3 -m venv /tmp/bp && /tmp/bp/bin/pip install --no-deps basic-pitch==0.4.0 \\
        && /tmp/bp/bin/pip install onnxruntime librosa pretty_midi resampy scipy mir_eval soundfile
    PYTHONPATH=build/python /tmp/bp/bin/python bench/scripts/compare_basic_pitch.py \\
        --data data/cache/full-s0 --split test --threads 1

Without basic-pitch the script scores our model alone and says so. basic-pitch uses its own defaults
(onset 0.5, frame 0.3, minimum note 127.7 ms, "melodia trick"); its amplitudes become MIDI velocities as
its own MIDI writer does (round(127 * amplitude)).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

import pianograd as pg
from pianograd.data import excerpts, load_manifest
from pianograd.transcription.evaluate import DEFAULT_MODEL, load_model, transcribe_file
from pianograd.transcription.report import pooled_prf
from pianograd.transcription.tune import decode_options

KINDS = ("note", "note_offset", "note_offset_velocity", "frame")


def basic_pitch_transcriber(threads: int) -> Optional[Callable[[Path], "pg.Performance"]]:
    """basic-pitch's ONNX model on `threads` intra-op threads, or None when it is not installed."""
    try:
        import onnxruntime as ort
        with contextlib.redirect_stderr(io.StringIO()):  # it warns about every backend it does not find
            from basic_pitch import FilenameSuffix, build_icassp_2022_model_path
            from basic_pitch.inference import Model, predict
    except ImportError:
        return None
    path = build_icassp_2022_model_path(FilenameSuffix.onnx)
    model = Model(path)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    model.model = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])

    def run(wav: Path) -> "pg.Performance":
        with contextlib.redirect_stdout(io.StringIO()):  # "Predicting MIDI for ..." per file
            _, _, events = predict(str(wav), model)
        notes = [(int(p), float(s), max(float(e), float(s) + 1e-3), int(np.clip(round(127 * a), 1, 127)))
                 for s, e, p, a, _ in events if 21 <= int(p) <= 108]
        return pg.Performance(notes)

    return run


def score(rows: List[Dict[str, Dict[str, float]]]) -> Dict[str, float]:
    out = {k: float(np.mean([r[k]["f1"] for r in rows])) for k in KINDS}
    out["pedal"] = pooled_prf([r["pedal"] for r in rows])["f1"]
    return out


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="data/cache/full-s0", help="prepared data folder (pianograd data prepare)")
    ap.add_argument("--split", default="test", choices=["train", "valid", "test"])
    ap.add_argument("--model", default=None, help="our checkpoint (default: the shipped model)")
    ap.add_argument("--threads", type=int, default=1, help="threads for each system (default 1: one core)")
    ap.add_argument("--limit", type=int, default=0, help="first K excerpts only")
    ap.add_argument("--condition", default="clean", choices=["clean", "room"],
                    help="room: both systems hear every file re-recorded in a room (as `pianograd eval --condition room`)")
    ap.add_argument("--condition-seed", type=int, default=1000)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)

    items = excerpts(load_manifest(args.data), args.split)[: args.limit or None]
    if not items:
        raise SystemExit(f"{args.data}: split {args.split!r} has no excerpts")
    with tempfile.TemporaryDirectory(prefix="pg_cmp_") as tmp:
        wavs = conditioned_files(items, args.condition, args.condition_seed, Path(tmp))
        return compare(args, items, wavs)


def conditioned_files(items, condition: str, seed: int, tmp: Path) -> List[Path]:
    """The files both systems transcribe: the excerpts' own, or copies heard under the room condition
    (written once, outside the timed region)."""
    if condition == "clean":
        return [Path(e.wav) for e in items]
    import soundfile as sf

    from pianograd.transcription.evaluate import ROOM_CONDITION, condition_audio
    out = []
    for e in items:
        x, sr = pg.read_audio(str(e.wav))
        y = condition_audio(np.asarray(x, np.float32), float(sr), ROOM_CONDITION, seed, Path(e.wav).name)
        out.append(tmp / Path(e.wav).name)
        sf.write(out[-1], y, int(sr), subtype="FLOAT")
    return out


def compare(args, items, wavs: List[Path]) -> int:
    audio_s = 0.0
    for w in wavs:
        x, sr = pg.read_audio(str(w))
        audio_s += len(x) / sr
    pg.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    ours = load_model(args.model)
    decode = decode_options(args.model or DEFAULT_MODEL)
    systems: Dict[str, Callable[[Path], "pg.Performance"]] = {
        "pianograd": lambda wav: transcribe_file(ours, wav, **decode)}
    bp = basic_pitch_transcriber(args.threads)
    if bp is None:
        print("basic-pitch is not installed here: scoring pianograd alone (see this script's docstring)",
              file=sys.stderr)
    else:
        systems["basic-pitch"] = bp
    results: Dict[str, Dict[str, object]] = {}
    for name, run in systems.items():
        run(wavs[0])  # warm-up: first-call allocations and lazy imports are not per-file costs
        rows, seconds = [], []
        for e, wav in pg.progress(list(zip(items, wavs)), desc=name, unit="file"):
            t0 = time.perf_counter()
            est = run(wav)
            seconds.append(time.perf_counter() - t0)
            rows.append(pg.transcription_metrics(e.performance(), est))
        results[name] = {**score(rows), "seconds_per_file": statistics.mean(seconds),
                         "realtime_factor": audio_s / sum(seconds), "files": len(items)}

    names = list(results)
    title = (f"{Path(args.data).name} / {args.split}" + (f" in the {args.condition} condition" if args.condition != "clean"
             else "") + f": {len(items)} files, {args.threads} thread(s)")
    print(f"\n{title}")
    head = ["metric", *names] + (["pianograd - basic-pitch"] if len(names) == 2 else [])
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    labels = {"note": "note F1", "note_offset": "note+offset F1", "note_offset_velocity": "note+offset+velocity F1",
              "frame": "frame F1", "pedal": "pedal event F1 (pooled)", "seconds_per_file": "seconds per file",
              "realtime_factor": "x real time"}
    for key, label in labels.items():
        vals = [results[n][key] for n in names]
        cells = [f"{v:.3f}" if key not in ("realtime_factor",) else f"{v:.0f}" for v in vals]
        if key == "pedal" and "basic-pitch" in results:
            cells[names.index("basic-pitch")] = "- (no pedal output)"
        if len(names) == 2:
            if key == "seconds_per_file":
                cells.append(f"{vals[1] / vals[0]:.2f}x faster" if vals[0] > 0 else "-")
            elif key in ("pedal", "realtime_factor"):
                cells.append("")
            else:
                cells.append(f"{100 * (vals[0] - vals[1]):+.1f} points")
        print("| " + " | ".join([label, *cells]) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({"title": title, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
