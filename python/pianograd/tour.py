"""The main job, `make demo` (issue 16, item 5): a tour of the basic setup on one held-out piece.

The LMM basic setup has three modalities (score images V, audio A, performances M) and three goals: g
reads scores (V→M), h transcribes audio (A→M), and LM^M models performances. The tour meets one piece
that no shipped model trained on in all three:

1. **h, A→M** — the transcription demo (pianograd.transcription.demo): starting from the synthetic-only
   transcriber, a bounded run through the synth loop on the small embedded data set (N = 4 pairs), then
   the held-out test excerpts transcribed and scored.
2. **g, V→M** — the same piece's first page engraved by Verovio in a music font g never trained on,
   read by the shipped OMR model, scored on (pitch, onset in beats) against the engraved notes.
3. **LM^M** — the shipped motion LM scores the held-out performances (NLL per event, beside the shipped
   GRU baseline) and continues h's transcription of the excerpt.

Everything is played by our piano (the one the synth loop fitted) and written to one folder: report.md
with the score image and piano rolls, the WAVs and MIDI files.

    python -m pianograd.tour [--budget 180] [--out out/demo]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import _core as pg

TEMPO = 120.0  # the OMR reading's tempo (quarter notes per minute), as `pianograd omr` defaults to


def held_out_everywhere(piece_group: str) -> bool:
    """Whether a work is in the test split of every shipped model's data: the transcription data (test
    fraction 0.15), the OMR strips and the motion LM's corpus (0.1 and 0.15), all with split seed 0.
    The split draws one uniform number per work, so test at 0.1 implies test at 0.15."""
    from .data.splits import split_of

    return split_of(piece_group, 0, 0.1, 0.1) == "test"


def _piece_group(piece_id: str) -> str:
    from .data.catalog import catalog

    return next((p.group for p in catalog() if p.id == piece_id), piece_id)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _piano(run_dir: Path) -> "pg.Piano":
    fitted = run_dir / "piano.safetensors"
    return pg.Piano.load(str(fitted)) if fitted.is_file() else pg.Piano(16000.0)


def read_score(piece: str, out: Path, font: str = "Leland", zoom: float = 1.4) -> Dict[str, object]:
    """g on the first page of `piece` engraved in `font`: the page PNG, the notes read (MIDI at TEMPO), and
    note F1 against the engraved notes (pitch, onset in beats; + duration)."""
    from .data.engrave import render_page
    from .omr.evaluate import NoteTally
    from .omr.recognize import recognize
    from .transcription.report import plot_roll

    t0 = time.perf_counter()
    page = render_page(piece, font=font, zoom=zoom)
    pg.write_png(str(out / "score.png"), page.grey)
    r = recognize(page.grey)
    seconds = time.perf_counter() - t0
    tally = NoteTally()
    f1 = tally.add(page.notes, r.notes, r.pickup_beats)
    q = 60.0 / TEMPO
    # Both on the page's timeline (the reading's pickup moved back, as the tally compares them).
    as_perf = lambda notes: pg.Performance([(p, o * q, (o + d) * q, 72)  # noqa: E731
                                            for p, o, d in notes if 21 <= p <= 108])
    read = as_perf([(n.pitch, n.onset_beats + r.pickup_beats, n.duration_beats) for n in r.notes])
    engraved = as_perf([(p, o, d) for p, o, d, _ in page.notes])
    pg.write_midi(str(out / "score_read.mid"), read)
    plot_roll(out / "score_roll.png", f"g on {piece}, first page in {font}: note F1 {f1['f1_onset']:.3f} "
              f"(with duration {f1['f1_duration']:.3f}), {TEMPO:.0f} quarter notes per minute",
              engraved, read, labels=("engraved", "read by g"))
    return {"piece": piece, "font": font, "staves": len(r.staves), "systems": len(r.systems),
            "bars": page.bars, "f1": f1["f1_onset"], "f1_duration": f1["f1_duration"],
            "n_ref": tally.tot["onset"][1], "n_est": tally.tot["onset"][2], "seconds": seconds,
            "performance": read, "warnings": list(r.warnings)}


def continue_and_score(prompt: "pg.Performance", references: List["pg.Performance"], out: Path,
                       prompt_s: float = 6.0, seconds: float = 8.0, seed: int = 0) -> Dict[str, object]:
    """LM^M: NLL per event of the shipped motion LM (and the shipped GRU baseline) on `references`, and a
    continuation of the first prompt_s seconds of `prompt`."""
    from .lm.evaluate import DEFAULT_MODEL, score
    from .lm.generate import generate
    from .lm.train import load_any
    from .transcription.report import plot_roll

    models = {"motion LM (Transformer)": load_any(str(DEFAULT_MODEL))}
    gru = DEFAULT_MODEL.parent / "gru.safetensors"
    if gru.is_file():
        models["GRU baseline"] = load_any(str(gru))
    nll = {name: score(m, references) for name, m in models.items()}
    # A short excerpt lends at most its first 60 % as the prompt, so something of it is left to continue.
    span = max((n.offset for n in prompt.notes), default=0.0)
    prompt_s = min(prompt_s, 0.6 * span) if span > 0 else prompt_s
    head = pg.Performance([n for n in prompt.notes if n.onset < prompt_s],
                          [pt for pt in prompt.pedal if pt[0] < prompt_s] if prompt.pedal else [])
    t0 = time.perf_counter()
    whole = generate(models["motion LM (Transformer)"], prompt=head if head.notes else None, seconds=seconds,
                     seed=seed)
    gen_s = time.perf_counter() - t0
    # The decoded performance repeats the prompt's notes (as tokens quantise them); what is new is what
    # starts after the prompt's last onset.
    last = max((n.onset for n in head.notes), default=-1.0) + pg.MotionTokenizer().time_step
    new = pg.Performance([n for n in whole.notes if n.onset > last])
    pg.write_midi(str(out / "continuation.mid"), whole)
    plot_roll(out / "continuation_roll.png", f"LM^M continues h's transcription after {prompt_s:.0f} s "
              f"({seconds:.0f} s sampled, top-p 0.95, seed {seed})", head, new,
              labels=("prompt: h's transcription", "continuation by LM^M"))
    return {"nll": nll, "prompt_notes": len(head.notes), "new_notes": len(new.notes), "seconds": gen_s,
            "performance": whole, "prompt_s": prompt_s, "continued_s": seconds}


def _nll_table(nll: Dict[str, Dict[str, float]]) -> str:
    lines = ["| model | NLL / event (nats) | bits / s | events |", "|---|---|---|---|"]
    for name, r in nll.items():
        lines.append(f"| {name} | {r['nll_per_event']:.3f} | {r['bits_per_second']:.1f} | {r['tokens']} |")
    return "\n".join(lines)


def run(out: Path, budget_s: float = 180.0, steps: int = 400, data: str = "data/cache/demo-s0", threads: int = 0,
        quiet: bool = False, lm_seconds: float = 8.0) -> Dict[str, object]:
    from .lm.generate import render
    from .transcription import demo

    t_start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    print("== h: audio to performance (A→M), through the synth loop ==")
    h = demo.run(budget_s, out / "transcription", data, steps, threads, quiet, stage="h ")
    # Beside the few minutes' run, the transcriber the project ships (hours on the full set, which holds
    # none of the demo's test works) on the same excerpts.
    from .transcription.evaluate import evaluate as evaluate_transcriber

    shipped = evaluate_transcriber(None, data, "test")["mean"]
    h_table = demo.f1_table(h["rows"] + [("the shipped transcriber (full training)", shipped)])
    print("h  the shipped transcriber on the same excerpts: note F1 "
          f"{shipped['note']:.3f}, note + offset {shipped['note_offset']:.3f}")
    # The piece the tour follows: a test excerpt whose work every shipped model left out of training.
    tests = h["tests"]
    pick = next((e for e in tests if held_out_everywhere(_piece_group(e.piece))), h["excerpt"])
    if pick.id != h["excerpt"].id:
        model = pg.Transcriber.load(h["model"])
        model.eval()
        from .data import load_audio

        x, sr = load_audio(pick.wav)
        transcription = model.transcribe(np.ascontiguousarray(x, dtype=np.float32), float(sr))
    else:
        transcription = h["transcription"]
    held_out = held_out_everywhere(_piece_group(pick.piece))
    piano = _piano(out / "transcription" / "run")
    pg.write_midi(str(out / "transcription.mid"), transcription)
    render(transcription, out / "transcription.wav", piano=piano)

    print(f"\n== g: score image to performance (V→M): {pick.piece}, first page ==")
    g = read_score(pick.piece, out)
    render(g["performance"], out / "score_read.wav", piano=piano)
    print(f"g  {g['staves']} staves in {g['systems']} systems, {g['n_est']} notes read of {g['n_ref']} engraved "
          f"in {g['seconds']:.1f} s: note F1 {g['f1']:.3f} (pitch + onset), {g['f1_duration']:.3f} with duration")

    print("\n== LM^M: the motion language model ==")
    refs = [e.performance() for e in tests]
    lm = continue_and_score(transcription, refs, out, seconds=lm_seconds)
    render(lm["performance"], out / "continuation.wav", piano=piano)
    table = _nll_table(lm["nll"])
    print(f"LM on the {len(refs)} held-out test performances:\n\n{table}\n")
    print(f"LM continued h's transcription ({lm['prompt_notes']} notes in the first {lm['prompt_s']:.0f} s) with "
          f"{lm['new_notes']} notes in {lm['seconds']:.1f} s")

    total = time.perf_counter() - t_start
    where = "held out from every shipped model's training data" if held_out else \
        "held out from the transcription demo; another model's training data may hold it"
    eid = pick.id
    md = "\n".join([
        "# pianograd: a tour of the LMM basic setup", "",
        f"One piece, **{pick.piece}** ({where}), in its three modalities: its score as an image (V), its audio "
        "(A) and the performance itself (M). Three models map into M: g reads the score, h transcribes the "
        "audio, and the motion language model LM^M scores and continues performances. Everything below is "
        f"played by our differentiable piano as the synth loop fitted it. Total time {total:.0f} s.", "",
        "## h: audio → performance", "",
        f"The transcriber starts from the shipped synthetic-only model and trains for {h['steps']} steps "
        f"({h['seconds']:.0f} s) on the embedded data set: {h['n_labelled']} labelled excerpts (N = 4 pairs), "
        f"{h['n_unlabelled']} unlabelled ones through the synth loop, and synthetic pairs. Mean F1 on the "
        f"{len(tests)} held-out test excerpts, beside the transcriber the project ships:", "", h_table, "",
        f"Excerpt `{eid}`: [its transcription](transcription.mid) played by our piano: "
        "[transcription.wav](transcription.wav). Per-excerpt metrics, piano rolls and the input audio: "
        "[transcription/report.md](transcription/report.md).", "",
        "## g: score image → performance", "",
        f"The first page of {pick.piece} as Verovio engraves it in the {g['font']} font, which g never saw in "
        f"training ({g['bars']} bars, {g['staves']} staves in {g['systems']} systems):", "",
        "![the score](score.png)", "",
        f"g read {g['n_est']} notes of the {g['n_ref']} engraved in {g['seconds']:.1f} s: note F1 **{g['f1']:.3f}** "
        f"on (pitch, onset in beats), {g['f1_duration']:.3f} with durations. The reading as "
        f"[MIDI](score_read.mid) at {TEMPO:.0f} quarter notes per minute and played by our piano: "
        "[score_read.wav](score_read.wav).", "",
        "![engraved vs read](score_roll.png)", "",
        "## LM^M: the motion language model", "",
        f"Negative log-likelihood of the {len(refs)} held-out test performances (event tokens: time shifts, "
        "keys, velocities, pedal), the shipped Transformer beside the shipped GRU baseline:", "", table, "",
        f"Continuing h's transcription: the first {lm['prompt_s']:.0f} s as the prompt, {lm['continued_s']:.0f} s "
        f"sampled ({lm['new_notes']} notes in {lm['seconds']:.1f} s): [continuation.mid](continuation.mid), "
        "[continuation.wav](continuation.wav).", "",
        "![prompt and continuation](continuation_roll.png)", ""])
    _write(out / "report.md", md)
    print(f"\nwrote {out / 'report.md'} (score.png, score_read.mid/.wav, transcription.mid/.wav, "
          f"continuation.mid/.wav, three piano rolls, transcription/) in {total:.0f} s")
    return {"h": h, "h_shipped": shipped, "g": g, "lm": lm, "piece": pick.piece, "held_out": held_out,
            "seconds": total}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pianograd.tour", description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, default=180.0, help="h's training seconds (default 180)")
    ap.add_argument("--steps", type=int, default=400, help="at most this many training steps (default 400)")
    ap.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    ap.add_argument("--data", default="data/cache/demo-s0", help="prepared demo data folder")
    ap.add_argument("--lm-seconds", type=float, default=8.0, help="seconds LM^M continues (default 8)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--quiet", "-q", action="store_true")
    a = ap.parse_args(argv)
    out = Path(a.out)
    run_dir = out / "transcription" / "run"
    if run_dir.exists():  # h always trains afresh: a bounded, reproducible run
        import shutil
        shutil.rmtree(run_dir)
    run(out, a.budget, a.steps, a.data, a.threads, a.quiet, a.lm_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
