"""OMR subcommands of the `pianograd` CLI (issue 13):

    pianograd omr IMAGE... OUT.mid [--tempo BPM] [--json J] [--musicxml X] [--wav W]   pages -> MIDI
    pianograd train omr --config C --out D                                            trains g
    pianograd eval omr [--model M] [--split test] [--fonts held_out|train] [--pages K] [--musescore K] [--out R]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path



def write_musicxml(path: str, notes, tempo: float) -> None:
    """Notes as a two-staff piano score through music21 (staff 0 = treble, the rest = bass)."""
    from music21 import chord, clef, meter, note, stream, tempo as m21tempo

    from ..data.cache import atomic_write_with

    score = stream.Score()
    shift = max(0.0, -min((n.onset_beats for n in notes), default=0.0))
    for staff_id, cl in ((0, clef.TrebleClef()), (1, clef.BassClef())):
        part = stream.PartStaff()
        part.insert(0, cl)
        if staff_id == 0:
            part.insert(0, m21tempo.MetronomeMark(number=tempo))
        groups = {}
        for n in notes:
            if (n.staff == 0) == (staff_id == 0):
                groups.setdefault((n.onset_beats + shift, n.duration_beats), []).append(n.pitch)
        for (on, dur), pitches in sorted(groups.items()):
            el = note.Note(pitches[0]) if len(pitches) == 1 else chord.Chord(sorted(pitches))
            el.quarterLength = dur
            part.insert(on, el)
        score.insert(0, part)
    score.makeNotation(inPlace=True)

    def write(tmp: str) -> None:
        score.write("musicxml", fp=tmp)

    atomic_write_with(path, write)


def _cmd_omr(args: argparse.Namespace) -> int:
    import pianograd as pg

    from ..data.cache import atomic_write_json
    from .recognize import OmrResult

    from .recognize import read_pages

    notes, staves, warnings, _ = read_pages(args.images, model=args.model, beam=args.beam)
    for w in warnings:
        print(f"warning: {w}")
    perf = OmrResult(notes, [], [], []).to_performance(args.tempo)
    pg.write_midi(args.out, perf)
    if args.json:
        atomic_write_json(args.json, {"tempo_bpm": args.tempo, "notes": [
            {k: v for k, v in n.to_dict().items() if k != "system"} for n in notes]})
    if args.musicxml:
        write_musicxml(args.musicxml, notes, args.tempo)
    if args.wav and len(perf):
        piano = pg.Piano(sample_rate=22050.0)
        with pg.no_grad():
            audio = piano.render(perf, sample_rate=22050.0).numpy()
        peak = float(abs(audio).max()) if audio.size else 0.0
        pg.write_audio(args.wav, audio * (0.9 / peak) if peak > 0 else audio, 22050, clipping="clip")
    print(f"{len(args.images)} page(s), {staves} staves: {len(notes)} notes, "
          f"{perf.duration:.1f} s at {args.tempo:g} BPM -> {args.out}")
    return 0


def _cmd_eval_omr(args: argparse.Namespace) -> int:
    from .evaluate import evaluate

    res = evaluate(args.model, args.split, args.fonts, out=args.out, limit=args.limit or None, beam=args.beam,
                   progress=not args.quiet, pages=args.pages, musescore=args.musescore)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"{'staff type':<14} {'strips':>6} {'SER':>7} {'note F1':>8} {'+dur F1':>8}")
    for k, v in res.items():
        if isinstance(v, dict) and "ser" in v:
            print(f"{k:<14} {v['strips']:>6} {v['ser']:>7.2%} {v['note_f1']:>8.3f} {v['note_f1_duration']:>8.3f}")
    pr = res.get("page_reading")
    if pr:
        print(f"{'pages':<14} {len(pr['pages']):>6} {'':>7} {pr['note_f1_onset']:>8.3f} {pr['note_f1_duration']:>8.3f}")
    mr = res.get("musescore_reading")
    if mr:
        print(f"{'MuseScore':<14} {len(mr['works']):>6} {'':>7} {mr['note_f1_onset']:>8.3f} {mr['note_f1_duration']:>8.3f}")
    if args.out:
        print(f"report: {Path(args.out) / 'report.md'}")
    return 0


def cmd_experiment_omr(args: argparse.Namespace) -> int:
    """`pianograd experiment omr`: g's sample-efficiency table (pianograd.omr.experiment)."""
    from .experiment import ALL, ARMS, run_experiment
    from .experiment_report import render_markdown
    from .train import OmrTrainConfig

    if args.data or args.heldout:
        raise ValueError("experiment omr: --data and --heldout are the transcriber's; g's data is in --config")
    if not args.config:
        raise ValueError("experiment omr: --config is required (e.g. configs/omr/experiment.json)")
    p = Path(args.config)
    if not p.is_file():
        raise FileNotFoundError(f"experiment omr: config {p}: no such file")
    d = json.loads(p.read_text())
    d.update({k: v for k, v in (("seed", args.seed), ("threads", args.threads)) if v is not None})
    base = OmrTrainConfig.from_dict(d)
    budgets = [ALL if x.strip() == "all" else int(x) for x in (args.budgets or "0,4,16,all").split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    arms = [a.strip() for a in args.arms.split(",")] if args.arms else list(ARMS)
    doc = run_experiment(base, args.out, budgets, args.pretrain_steps or 4000, args.steps or 500,
                         args.test_limit, args.pretrained, quiet=args.quiet, seeds=seeds, jobs=args.jobs,
                         arms=arms)
    print(render_markdown(doc))
    return 0


def add_parsers(sub) -> None:
    o = sub.add_parser("omr", help="read printed music (PNG/JPEG/PDF pages) into MIDI")
    o.add_argument("images", nargs="+", help="page images in order")
    o.add_argument("out", help="output Standard MIDI File")
    o.add_argument("--tempo", type=float, default=120.0, help="quarter notes per minute (default 120)")
    o.add_argument("--json", default=None, help="also write the notes {pitch, onset_beats, duration_beats, staff}")
    o.add_argument("--musicxml", default=None, help="also write a MusicXML score (music21)")
    o.add_argument("--wav", default=None, help="also render the notes with our piano")
    o.add_argument("--model", default=None, help="OMR model (default: the shipped one)")
    o.add_argument("--beam", type=int, default=0, help="CTC prefix beam width (0: greedy)")
    o.set_defaults(func=_cmd_omr)


def add_eval_arguments(ev) -> None:
    ev.add_argument("--fonts", default="held_out", choices=["held_out", "train"],
                    help="omr: engrave the split in the held-out font or the training fonts")
    ev.add_argument("--beam", type=int, default=0, help="omr: CTC prefix beam width (0: greedy)")
    ev.add_argument("--pages", type=int, default=0, help="omr: also read the first page of K multi-staff works whole (piano first)")
    ev.add_argument("--musescore", type=int, default=0,
                    help="omr: also read K works of the split whole as MuseScore 3 engraves them (an unseen engraver)")
