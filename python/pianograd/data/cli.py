"""`python -m pianograd.data …` (also reachable as `pianograd data …` through main(argv)).

    prepare      corpus -> performances -> MIDI -> FluidSynth WAVs + manifest (cached)
    list         the catalogue of corpus pieces by category
    budget       rewrite a manifest's pair budget N without re-rendering
    render-note  one key at one velocity, rendered by FluidSynth to a WAV
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

DEFAULT_OUT = "data/cache/{name}-s{seed}"


def _cmd_prepare(a: argparse.Namespace) -> int:
    from .prepare import PRESETS, DataConfig, prepare

    cfg = PRESETS[a.preset]
    if a.config:
        cfg = DataConfig.from_dict(json.loads(Path(a.config).read_text()), base=cfg)
    over = {k: v for k, v in (("pieces", a.pieces), ("seed", a.seed), ("n_pairs", a.n_pairs),
                              ("excerpts_per_piece", a.excerpts), ("excerpt_s", a.seconds)) if v is not None}
    if a.no_audio:
        over["audio"] = False
    if a.categories:
        over["categories"] = a.categories.split(",")
    cfg = DataConfig.from_dict(over, base=cfg)
    out = a.out or DEFAULT_OUT.format(name=cfg.name, seed=cfg.seed)
    manifest, stats = prepare(cfg, out, jobs=a.jobs, progress=not a.quiet)
    sp = manifest["splits"]
    print(f"data set '{cfg.name}' in {out}: {len(sp['train'])} train / {len(sp['valid'])} valid / "
          f"{len(sp['test'])} test pieces, {stats['excerpts']} excerpts, N = {manifest['n_pairs']} labelled "
          f"training pieces")
    print(f"cache: scores {stats.get('score_hits', 0)} hit / {stats.get('score_misses', 0)} new, "
          f"midi {stats.get('midi_hits', 0)}/{stats.get('midi_misses', 0)}, "
          f"wav {stats.get('wav_hits', 0)}/{stats.get('wav_misses', 0)}; max peak {stats['max_peak']:.3f}; "
          f"{stats['seconds']:.1f} s")
    return 0


def _cmd_list(a: argparse.Namespace) -> int:
    from .catalog import by_category, catalog

    for cat, ps in by_category(catalog()).items():
        groups = len({p.group for p in ps})
        print(f"{cat}: {len(ps)} pieces in {groups} works")
        if a.verbose or cat != "chorale":
            for p in ps:
                print(f"  {p.id}")
    return 0


def _cmd_budget(a: argparse.Namespace) -> int:
    from .cache import atomic_write_json
    from .dataset import load_manifest, with_pair_budget
    from .prepare import MANIFEST

    m = with_pair_budget(load_manifest(a.dir), a.n_pairs)
    m.pop("root", None)
    dest = Path(a.write) if a.write else Path(a.dir) / MANIFEST
    atomic_write_json(dest, m)
    print(f"{dest}: N = {m['n_pairs']} labelled training pieces: {', '.join(m['labelled_train']) or '-'}")
    return 0


def _cmd_render_note(a: argparse.Namespace) -> int:
    from .render import DRY, RenderConfig, render_note

    cfg = RenderConfig(sample_rate=a.sample_rate, reverb=a.reverb, tail_s=DRY.tail_s, gain=a.gain)
    x = render_note(a.key, a.velocity, a.duration, a.out, cfg)
    print(f"{a.out}: key {a.key} velocity {a.velocity}, {x.size / cfg.sample_rate:.2f} s at "
          f"{cfg.sample_rate} Hz, peak {abs(x).max():.3f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m pianograd.data", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("prepare", help="build (or find cached) a data set")
    p.add_argument("--out", help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--preset", default="demo", choices=["demo", "full"])
    p.add_argument("--config", help="JSON file overriding preset fields (nested humanize/render allowed)")
    p.add_argument("--pieces", type=int, help="K pieces over all splits")
    p.add_argument("--seed", type=int)
    p.add_argument("--n-pairs", type=int, help="training pieces that keep their labels (pair budget N)")
    p.add_argument("--excerpts", type=int, help="excerpts per piece")
    p.add_argument("--seconds", type=float, help="maximum excerpt length")
    p.add_argument("--categories", help="comma-separated: keyboard,song,chorale,quartet")
    p.add_argument("--jobs", type=int, help="worker processes (default: all cores)")
    p.add_argument("--no-audio", action="store_true", help="symbolic data only (no FluidSynth)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(fn=_cmd_prepare)

    p = sub.add_parser("list", help="the catalogue of corpus pieces")
    p.add_argument("-v", "--verbose", action="store_true", help="also list every chorale")
    p.set_defaults(fn=_cmd_list)

    p = sub.add_parser("budget", help="change a prepared set's pair budget N")
    p.add_argument("dir")
    p.add_argument("--n-pairs", type=int, required=True)
    p.add_argument("--write", help="write the new manifest here instead of replacing the folder's")
    p.set_defaults(fn=_cmd_budget)

    p = sub.add_parser("render-note", help="one FluidSynth piano note to a WAV")
    p.add_argument("--key", type=int, required=True)
    p.add_argument("--velocity", type=int, default=80)
    p.add_argument("--duration", type=float, default=1.0)
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--gain", type=float, default=0.5)
    p.add_argument("--reverb", action="store_true")
    p.add_argument("--out", required=True)
    p.set_defaults(fn=_cmd_render_note)
    return ap


def main(argv: Optional[Sequence[str]] = None) -> int:
    a = build_parser().parse_args(argv)
    try:
        return a.fn(a)
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as e:
        print(f"pianograd data {a.cmd}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
