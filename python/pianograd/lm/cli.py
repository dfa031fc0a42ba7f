"""Motion-LM subcommands of the `pianograd` CLI (issue 14):

    pianograd train lm --config C [--out D] [--arch transformer|gru|ngram]
    pianograd lm eval [--model M] --midi DIR [--json OUT.json]
    pianograd generate [--model M] [--prompt in.mid] [--seconds 30] [--temperature T] [--top-p P] out.mid [--wav out.wav]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .. import distributed


def train_lm(args: argparse.Namespace) -> int:
    from .config import LMConfig
    from .train import train

    over = {"out": args.out, "steps": args.steps, "time_budget_s": args.time_budget, "seed": args.seed,
            "threads": args.threads, "arch": getattr(args, "arch", None)}
    cfg = LMConfig.load(args.config, **over) if args.config else \
        LMConfig.from_dict({k: v for k, v in over.items() if v is not None})
    s = train(cfg, quiet=args.quiet)
    if not distributed.context().is_main:
        return 0
    v = [r["valid_nll"] for r in s["log"] if "valid_nll" in r]
    print(f"trained {cfg.arch}: {s['steps']} steps in {s['seconds']:.0f} s ({s['parameters']} "
          f"{'n-grams' if cfg.arch == 'ngram' else 'parameters'}), validation NLL "
          f"{v[-1]:.3f} nats/event -> {s['model']}" if v else f"trained -> {s['model']}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from ..data.cache import atomic_write_json
    from .evaluate import evaluate, load_models, midi_folder, table

    models = load_models(args.model)
    perfs, names = midi_folder(args.midi)
    res = evaluate(models, perfs)
    print(f"{len(perfs)} performances, {res['model']['tokens']} tokens, {res['model']['seconds']:.1f} s of music")
    print(table(res), end="")
    if args.json:
        atomic_write_json(Path(args.json), res)
        print(f"wrote {args.json}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from .. import _core as pg
    from .generate import generate, render

    t0 = time.perf_counter()
    perf = generate(args.model, args.prompt, seconds=args.seconds, temperature=args.temperature, top_k=args.top_k,
                    top_p=args.top_p, seed=args.seed)
    secs = time.perf_counter() - t0
    pg.write_midi(args.out, perf)
    print(f"{args.out}: {len(perf.notes)} notes, {perf.duration:.1f} s, generated in {secs:.1f} s")
    if args.wav:
        n = render(perf, args.wav)
        print(f"{args.wav}: {n:.1f} s rendered with pianograd's piano")
    return 0


def add_parsers(sub) -> None:
    lm = sub.add_parser("lm", help="the motion language model: `pianograd lm eval --midi DIR`")
    lsub = lm.add_subparsers(dest="lm_cmd")
    ev = lsub.add_parser("eval", help="NLL per event, bits per second and per field, with the baselines")
    ev.add_argument("--model", default=None, help="transformer checkpoint (default: the shipped model)")
    ev.add_argument("--midi", required=True, help="folder of MIDI files to score")
    ev.add_argument("--json", default=None, help="write the figures as JSON here")
    ev.set_defaults(func=_cmd_eval)
    g = sub.add_parser("generate", help="continue a MIDI prompt (or start from nothing) with the motion LM")
    g.add_argument("out", help="output MIDI file")
    g.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    g.add_argument("--prompt", default=None, help="MIDI file to continue")
    g.add_argument("--seconds", type=float, default=30.0, help="seconds of music to add (default 30)")
    g.add_argument("--temperature", type=float, default=1.0)
    g.add_argument("--top-k", type=int, default=0)
    g.add_argument("--top-p", type=float, default=0.95)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--wav", default=None, help="also render the result with pianograd's piano")
    g.set_defaults(func=_cmd_generate)
