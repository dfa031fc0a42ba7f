"""Transcription subcommands of the `pianograd` CLI (issue 5):

    pianograd transcribe in.wav out.mid [--model M]      audio -> MIDI with the shipped (or a given) model
    pianograd train transcription --config C [--out D]   trains h (resumes from D/checkpoint)
    pianograd eval --model M --data D [--split test]     metrics + JSON/Markdown/PNG report
    pianograd eval omr / train omr                       the OMR model's (pianograd.omr.cli)
    pianograd tune-decoding --model M --data D           decoding thresholds from the validation split
    pianograd experiment --data D --out R                the sample-efficiency table and plot (`experiment omr`: g's)
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def _cmd_transcribe(args: argparse.Namespace) -> int:
    from .. import _core as pg
    from .evaluate import DEFAULT_MODEL, load_model, transcribe_file
    from .tune import decode_options

    model = load_model(args.model)
    decode = decode_options(args.model or DEFAULT_MODEL)  # tuned on the validation split, when stored
    if args.onset_threshold is not None:
        decode["onset_threshold"] = args.onset_threshold
    if args.frame_threshold is not None:
        decode["frame_threshold"] = args.frame_threshold
    perf = transcribe_file(model, args.audio, **decode)
    pg.write_midi(args.out, perf)
    pedal = f", {len(pg.pedal_segments(perf))} sustain pedal presses (CC64)" if model.has_pedal else ""
    print(f"{args.audio}: {len(perf.notes)} notes{pedal} -> {args.out}")
    return 0


def _cmd_adapt(args: argparse.Namespace) -> int:
    from .adapt import adapt

    s = adapt(args.audio, args.out, model=args.model, minutes=args.minutes, max_audio_minutes=args.max_audio_minutes,
              threads=args.threads, seed=args.seed, quiet=args.quiet, replay=args.replay)
    print(f"adapted on {s['audio_seconds'] / 60:.1f} min of audio from {s['files']} file(s): {s['steps']} steps in "
          f"{s['seconds']:.0f} s -> {s['model']} (fitted piano: {s['piano']})")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .config import TrainConfig
    from .train import train

    if args.what == "omr":
        from ..omr.train import main as train_omr
        if not args.config or not args.out:
            raise ValueError("train omr: --config and --out are required (configs/omr/*.json)")
        return train_omr(["--config", args.config, "--out", args.out])
    if args.what == "lm":
        from ..lm.cli import train_lm
        return train_lm(args)
    if args.what != "transcription":
        raise ValueError(f"train: unknown target {args.what!r} (known: transcription, lm)")
    over = {"out": args.out, "steps": args.steps, "time_budget_s": args.time_budget, "data": args.data,
            "n_pairs": args.n_pairs, "seed": args.seed, "threads": args.threads, "init": args.init}
    cfg = TrainConfig.load(args.config, **over) if args.config else \
        TrainConfig.from_dict({k: v for k, v in over.items() if v is not None})
    s = train(cfg, quiet=args.quiet)
    from ..distributed import context

    if not context().is_main:
        return 0
    print(f"trained {s['steps']} steps in {s['seconds']:.0f} s ({s['parameters']} parameters) -> {s['model']}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate

    if args.what == "omr":
        from ..omr.cli import _cmd_eval_omr
        return _cmd_eval_omr(args)
    if not args.data:
        raise ValueError("eval: --data is required for a transcriber (a prepared data folder)")

    from .evaluate import ROOM_CONDITION

    condition = ROOM_CONDITION if args.condition == "room" else None
    res = evaluate(args.model, args.data, args.split, out=args.out, limit=args.limit, progress=not args.quiet,
                   condition=condition, condition_seed=args.condition_seed)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"{'metric':<24}  mean F1")
    for k, v in res["mean"].items():
        print(f"{k:<24}  {v:.3f}")
    if args.out:
        print(f"report: {Path(args.out) / 'report.md'}")
    return 0


def _cmd_experiment(args: argparse.Namespace) -> int:
    if args.kind == "omr":
        from ..omr.cli import cmd_experiment_omr
        return cmd_experiment_omr(args)
    from .config import TrainConfig
    from .experiment import ALL, render_markdown, run_experiment

    if args.arms:
        raise ValueError("experiment: --arms picks the arms of `experiment omr`; the transcriber's are fixed")

    over = {"data": args.data, "threads": args.threads, "seed": args.seed}
    base = TrainConfig.load(args.config, **over) if args.config else \
        TrainConfig.from_dict({k: v for k, v in over.items() if v is not None})
    budgets = [ALL if x.strip() == "all" else int(x) for x in (args.budgets or "0,1,4,16,all").split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    doc = run_experiment(base, args.out, budgets, args.pretrain_steps or 1000, args.steps or 200, args.test_limit,
                         args.pretrained, quiet=args.quiet, seeds=seeds, heldout=args.heldout, jobs=args.jobs)
    print(render_markdown(doc))
    return 0


def _cmd_tune(args: argparse.Namespace) -> int:
    from .evaluate import load_model
    from .tune import sidecar, tune_decoding

    best = tune_decoding(load_model(args.model), args.data, args.split, args.limit, save_to=args.model,
                         progress=not args.quiet)
    print(json.dumps(best, indent=2))
    print(f"saved: {sidecar(args.model)}")
    return 0


def add_parsers(sub) -> None:
    t = sub.add_parser("transcribe", help="transcribe piano audio to MIDI")
    t.add_argument("audio", help="input audio (any format libsndfile reads; resampled to the model's rate)")
    t.add_argument("out", help="output Standard MIDI File")
    t.add_argument("--model", default=None, help="transcriber checkpoint (default: the shipped model)")
    t.add_argument("--onset-threshold", type=float, default=None, help="default: the model's tuned value or 0.5")
    t.add_argument("--frame-threshold", type=float, default=None, help="default: the model's tuned value or 0.5")
    t.set_defaults(func=_cmd_transcribe)

    ad = sub.add_parser("adapt", help="adapt the transcriber to a new piano from its unlabelled recordings")
    ad.add_argument("--audio", nargs="+", required=True, help="recordings: audio files and/or folders of them")
    ad.add_argument("--out", required=True, help="the adapted transcriber (.safetensors)")
    ad.add_argument("--model", default=None, help="the model to adapt (default: the shipped model)")
    ad.add_argument("--minutes", type=float, default=10.0, help="training time budget (default 10)")
    ad.add_argument("--max-audio-minutes", type=float, default=10.0,
                    help="read at most this much audio, in file order (default 10)")
    ad.add_argument("--replay", default=None,
                    help="prepared data set whose labelled pairs are replayed (for the shipped model: data/cache/full-s0)")
    ad.add_argument("--threads", type=int, default=0)
    ad.add_argument("--seed", type=int, default=0)
    ad.add_argument("--quiet", "-q", action="store_true")
    ad.set_defaults(func=_cmd_adapt)

    tr = sub.add_parser("train", help="train a model: `pianograd train transcription|lm --config C`")
    tr.add_argument("what", choices=["transcription", "lm", "omr"])
    tr.add_argument("--config", default=None, help="JSON training config (configs/transcription/*.json, configs/lm/*.json)")
    tr.add_argument("--arch", default=None, choices=["transformer", "gru", "ngram"], help="lm: which model")
    tr.add_argument("--out", default=None, help="run folder (checkpoint, log.jsonl, model.safetensors)")
    tr.add_argument("--data", default=None, help="prepared data folder (pianograd data prepare)")
    tr.add_argument("--steps", type=int, default=None)
    tr.add_argument("--time-budget", type=float, default=None, help="stop after this many seconds")
    tr.add_argument("--n-pairs", type=int, default=None, help="pair budget N")
    tr.add_argument("--init", default=None, help="start from this model checkpoint")
    tr.add_argument("--seed", type=int, default=None)
    tr.add_argument("--threads", type=int, default=None)
    tr.add_argument("--quiet", "-q", action="store_true")
    tr.set_defaults(func=_cmd_train)

    ev = sub.add_parser("eval", help="score a transcriber (or `eval omr`, the OMR model) on a split")
    ev.add_argument("what", nargs="?", default="transcription", choices=["transcription", "omr"])
    ev.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    ev.add_argument("--data", default=None, help="prepared data folder (transcription)")
    ev.add_argument("--split", default="test", choices=["train", "valid", "test"])
    ev.add_argument("--out", default=None, help="write metrics.json, report.md and roll PNGs here")
    ev.add_argument("--limit", type=int, default=0, help="first K excerpts only")
    ev.add_argument("--condition", default="clean", choices=["clean", "room"],
                    help="room: each file re-recorded in a random room, mic chain and noise (seeded per file)")
    ev.add_argument("--condition-seed", type=int, default=1000, help="seed of the room condition")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--quiet", "-q", action="store_true")
    from ..omr.cli import add_eval_arguments

    add_eval_arguments(ev)
    ev.set_defaults(func=_cmd_eval)

    tu = sub.add_parser("tune-decoding", help="choose a model's decoding thresholds on the validation split")
    tu.add_argument("--model", required=True, help="checkpoint; the choice is saved beside it (.decode.json)")
    tu.add_argument("--data", required=True, help="prepared data folder")
    tu.add_argument("--split", default="valid", choices=["train", "valid"])
    tu.add_argument("--limit", type=int, default=0, help="first K excerpts only")
    tu.add_argument("--quiet", "-q", action="store_true")
    tu.set_defaults(func=_cmd_tune)

    ex = sub.add_parser("experiment", help="sample-efficiency experiment: N x {supervised, +synthetic, +loop}; "
                                           "'experiment omr': g's, N x {works, +synthetic, +self-training}")
    ex.add_argument("kind", nargs="?", default="transcription", choices=["transcription", "omr"],
                    help="which model's experiment (default transcription)")
    ex.add_argument("--config", default=None, help="base training config")
    ex.add_argument("--data", default=None, help="prepared data folder")
    ex.add_argument("--out", required=True, help="report folder (report.md, sample_efficiency.png, cells)")
    ex.add_argument("--budgets", default=None,
                    help="comma-separated pair budgets N ('all': every piece; default 0,1,4,16,all, omr 0,4,16,all)")
    ex.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (init, batches, which N pieces)")
    ex.add_argument("--arms", default=None,
                    help="omr: comma-separated arms (works,synthetic,self_train,audio; default all)")
    ex.add_argument("--heldout", default=None, help="the same pieces played by another piano: also score there")
    ex.add_argument("--jobs", type=int, default=1, help="cells trained in parallel (one thread each)")
    ex.add_argument("--pretrain-steps", type=int, default=None, help="default 1000, omr 4000")
    ex.add_argument("--pretrained", default=None, help="reuse this synthetic-pretrained checkpoint")
    ex.add_argument("--steps", type=int, default=None, help="training steps per cell (default 200, omr 500)")
    ex.add_argument("--test-limit", type=int, default=0, help="first K test excerpts only")
    ex.add_argument("--seed", type=int, default=None)
    ex.add_argument("--threads", type=int, default=None)
    ex.add_argument("--quiet", "-q", action="store_true")
    ex.set_defaults(func=_cmd_experiment)
