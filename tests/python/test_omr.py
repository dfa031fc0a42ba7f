"""The OMR path end to end on a tiny configuration: engraved data, training with checkpoints and
resume, page reading (staves, systems), the `pianograd omr` and `eval omr` commands, and bad input."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import pianograd as pg
from pianograd.omr.staff import deskew, find_staves, staff_strip

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "omr" / "tiny.json"


@pytest.fixture(scope="module")
def piano_page():
    from pianograd.data.engrave import render_page

    return render_page("mozart/k545/movement1_exposition.mxl", zoom=2.0)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from pianograd.omr.train import OmrTrainConfig, Trainer

    out = tmp_path_factory.mktemp("omr_run")
    cfg = OmrTrainConfig.from_dict(json.loads(TINY.read_text()))
    res = Trainer(cfg, out, progress=False).run()
    assert res["steps"] == cfg.steps
    return out


@pytest.mark.parametrize("zoom", [1.2, 2.0, 3.0])
def test_staves_and_systems_of_a_piano_page(zoom):
    """A grand-staff page at 120-300 dpi: every staff found, paired into systems by the brace/barlines."""
    from pianograd.data.engrave import render_page
    from pianograd.omr.recognize import group_systems

    page = render_page("mozart/k545/movement1_exposition.mxl", zoom=zoom)
    g = deskew(page.grey)
    staves = find_staves(g)
    systems = group_systems(g, staves)
    assert len(staves) >= 4 and len(staves) % 2 == 0
    assert [len(s) for s in systems] == [2] * (len(staves) // 2)
    spaces = [b.space for b in staves]
    assert max(spaces) - min(spaces) < 0.1 * np.mean(spaces)
    strip = staff_strip(g, staves[0])
    assert strip.shape[0] == 64 and strip.dtype == np.uint8


def test_choir_systems_group_four_staves():
    from pianograd.data.engrave import render_page
    from pianograd.omr.recognize import group_systems

    page = render_page("bach/bwv269.mxl", zoom=2.0)
    g = deskew(page.grey)
    systems = group_systems(g, find_staves(g))
    assert systems and all(len(s) == page.staves_per_system for s in systems)


def test_skewed_page_is_straightened(piano_page):
    from scipy import ndimage

    from pianograd.omr.staff import skew_angle

    tilted = ndimage.rotate(piano_page.grey, 0.8, reshape=False, order=1, cval=1.0)
    assert abs(skew_angle(tilted) + 0.8) <= 0.1 or abs(skew_angle(tilted) - 0.8) <= 0.1
    assert len(find_staves(deskew(tilted))) == len(find_staves(deskew(piano_page.grey)))


@pytest.mark.parametrize("image", [np.ones((600, 800), np.float32), np.ones((1, 1), np.float32),
                                   np.random.default_rng(0).random((300, 400)).astype(np.float32),
                                   np.zeros((200, 200, 3), np.uint8)],
                         ids=["blank page", "1x1", "noise photo", "black RGB"])
def test_no_music_gives_an_empty_result(image):
    r = pg.omr(image)  # no staff: no model is even loaded
    assert r.notes == [] and r.warnings


def test_bad_files_raise_typed_errors(tmp_path):
    txt = tmp_path / "notes.png"
    txt.write_text("not an image")
    with pytest.raises(OSError, match="notes.png"):
        pg.omr(str(txt))
    with pytest.raises(FileNotFoundError):
        pg.omr(str(tmp_path / "missing.png"))
    with pytest.raises(ValueError, match="finite"):
        pg.omr(np.full((50, 50), np.nan, np.float32))
    with pytest.raises(ValueError, match=r"\[H,W\]"):
        pg.omr(np.ones((2, 3, 4, 5), np.float32))


def test_training_writes_checkpoints_and_resumes(tiny_model, tmp_path):
    from pianograd import checkpointing
    from pianograd.omr.train import OmrTrainConfig, Trainer

    log = [json.loads(x) for x in (tiny_model / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, len(log) + 1))
    assert all(np.isfinite(r["loss"]) for r in log) and "valid_ser" in log[-1]
    assert checkpointing.load(tiny_model) is not None and (tiny_model / "model.safetensors").exists()
    # Resume: a copy of the run continues from its checkpoint instead of starting over.
    run = tmp_path / "run"
    shutil.copytree(tiny_model, run, symlinks=True)
    d = json.loads(TINY.read_text())
    d["lr"] = 0.5
    with pytest.raises(ValueError, match="different configuration"):
        Trainer(OmrTrainConfig.from_dict(d), run, progress=False)
    cfg = OmrTrainConfig.from_dict(json.loads(TINY.read_text()))
    t = Trainer(cfg, run, progress=False)
    assert t.step == cfg.steps


def test_cli_reads_a_page_into_midi_json_musicxml_wav(tiny_model, piano_page, tmp_path):
    from pianograd.cli import main

    img = tmp_path / "page.png"
    pg.write_png(str(img), piano_page.grey)
    out = tmp_path / "out.mid"
    rc = main(["omr", str(img), str(out), "--tempo", "100", "--json", str(tmp_path / "n.json"),
               "--musicxml", str(tmp_path / "s.musicxml"), "--wav", str(tmp_path / "a.wav"),
               "--model", str(tiny_model / "model.safetensors")])
    assert rc == 0 and out.exists()
    doc = json.loads((tmp_path / "n.json").read_text())
    assert doc["tempo_bpm"] == 100
    for n in doc["notes"]:
        assert set(n) == {"pitch", "onset_beats", "duration_beats", "staff"}
    pg.read_midi(str(out))


def test_eval_omr_reports_ser_and_note_f1(tiny_model, tmp_path):
    from pianograd.omr.data import OmrDataConfig
    from pianograd.omr.evaluate import evaluate

    d = json.loads(TINY.read_text())["data"]
    res = evaluate(str(tiny_model / "model.safetensors"), "test", "held_out", cfg=OmrDataConfig(**d),
                   out=str(tmp_path / "rep"), limit=4, progress=False)
    assert 0 <= res["all"]["ser"] and 0 <= res["all"]["note_f1"] <= 1
    # Grouped by the kind of work too: the tiny set's works are all chorales.
    assert res["works:chorale"]["strips"] == res["all"]["strips"] and res["works:chorale"]["ser"] == res["all"]["ser"]
    assert (tmp_path / "rep" / "report.md").exists() and (tmp_path / "rep" / "strip_0.png").exists()


def test_well_formed_readings_keep_the_metre():
    from pianograd.omr.self_train import well_formed

    good = "clef:G2 key:0 time:3/4 G4 1 | G4 2 D5 1 | B4 3/2 A4 1/2 G4 1 | C5 1".split()
    assert well_formed(good)
    assert not well_formed("clef:G2 time:3/4 G4 1 | G4 2 D5 2 | B4 3 | C5 1".split())  # a 4-beat bar
    assert not well_formed("clef:G2 time:3/4 G4 | 1".split())  # does not decode
    assert well_formed("clef:F4 key:-2 C3 1 D3 1 | E3 2".split())  # no metre shown: nothing to check


def test_pair_budget_and_self_training(tmp_path):
    """N labelled works, the rest unlabelled; pseudo-labels are re-read on schedule and survive resume."""
    from pianograd.omr.train import OmrTrainConfig, Trainer

    d = json.loads(TINY.read_text())
    d.update({"n_labelled": 1, "self_train_from": 2, "self_train_every": 2, "self_train_max_nll": 50.0})
    cfg = OmrTrainConfig.from_dict(d)
    t = Trainer(cfg, tmp_path, progress=False)
    pieces = {t.train_set.meta[i]["piece"] for i in t.targets}
    assert len(pieces) == 1 and t.unlabelled and not t.pseudo
    t.run()
    log = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "pseudo" in r] == [2, 4, 6]
    t2 = Trainer(cfg, tmp_path, progress=False)  # resumed: the pseudo-labels come back with the state
    assert t2.pseudo == t.pseudo and set(t2.usable) == set(t.usable)


def test_shipped_model_reads_unseen_works_in_an_unseen_font():
    """A regression floor for the shipped model: test-split chorale systems engraved clean in the font
    held out of training (Leland). Measured 0.89 note F1 over the whole held-out test set."""
    import random

    from pianograd.data.engrave import EngraveStyle, Engraver, piece_staves, staff_segments
    from pianograd.omr.data import OmrDataConfig, split_pieces
    from pianograd.omr.recognize import DEFAULT_MODEL, read_strips
    from pianograd.omr.model import load_model
    from pianograd.omr.tokens import tokens_to_notes

    cfg = OmrDataConfig()
    piece = next(p for p in split_pieces(cfg, "test") if p.startswith("bach/"))
    eng, rng = Engraver(), random.Random(0)
    strips, refs = [], []
    for staff in piece_staves(piece):
        for seg in staff_segments(staff, rng)[:3]:
            g = deskew(eng.render(staff, seg.first, seg.last, EngraveStyle(font="Leland", zoom=1.3)))
            boxes = find_staves(g)
            assert len(boxes) == 1
            strips.append(staff_strip(g, boxes[0]))
            refs.append([{"pitch": p, "onset_beats": o, "duration_beats": d} for p, o, d in seg.notes])
    hyp = read_strips(load_model(DEFAULT_MODEL), strips)
    ref_all, est_all = [], []
    for k, (r, h) in enumerate(zip(refs, hyp)):  # one timeline: system k shifted far apart
        ref_all += [dict(n, onset_beats=n["onset_beats"] + 1000 * k) for n in r]
        est_all += [{"pitch": n.pitch, "onset_beats": float(n.onset) + 1000 * k,
                     "duration_beats": float(n.duration)} for n in tokens_to_notes(h, strict=False)]
    f1 = pg.omr_note_f1(ref_all, est_all)["f1"]
    assert f1 >= 0.75, (piece, f1)


def test_tokens_know_where_g_saw_them(piano_page):
    """Greedy decoding reports the frame of every token it emits: in reading order, inside the strip, and
    barlines of the two staves of a grand staff at the same place on the page (they cross both)."""
    from pianograd.omr.recognize import DEFAULT_MODEL, _positions, group_systems, read_strips
    from pianograd.omr.model import frames, load_model
    from pianograd.omr.staff import neighbour_limits
    from pianograd.omr.tokens import tokens_to_notes

    g = deskew(piano_page.grey)
    boxes = find_staves(g)
    system = group_systems(g, boxes)[0]
    strips = [staff_strip(g, boxes[i], limits=neighbour_limits(boxes, i)) for i in system]
    at = []
    tokens = read_strips(load_model(DEFAULT_MODEL), strips, frames=at)
    places = []
    for s, toks, f, i in zip(strips, tokens, at, system):
        assert f is not None and len(f) == len(toks) and f == sorted(f) and f[-1] < frames(s.shape[1])
        units, bar_tokens = [], []
        tokens_to_notes(toks, strict=False, units=units, bar_tokens=bar_tokens)
        places.append(_positions(boxes[i], f, units, bar_tokens))
    upper, lower = places
    assert len(upper.bar_x) == len(lower.bar_x) >= 2
    assert max(abs(a - b) for a, b in zip(upper.bar_x, lower.bar_x)) < 0.9 * boxes[system[0]].space


def test_a_later_page_continues_the_score(piano_page):
    """A page read as a continuation has no pickup and keeps the metre it was given until it reads one."""
    from fractions import Fraction as Fr

    from pianograd.omr.recognize import recognize

    first = recognize(piano_page.grey)
    assert first.metre == (Fr(4), Fr(1))  # Mozart's K. 545 is in 4/4
    later = recognize(piano_page.grey, metre=(Fr(3), Fr(1)), continued=True)
    assert later.pickup_beats == 0 and later.metre == (Fr(4), Fr(1))
    assert recognize(np.ones((600, 800), np.float32), metre=(Fr(3), Fr(1)), continued=True).metre == (Fr(3), Fr(1))


def test_page_x_inverts_the_strip_geometry(piano_page):
    """A barline's column in a staff's strip maps back to its column on the page (staff.page_x mirrors
    staff_strip's crop and scale), within one strip pixel's width."""
    from pianograd.omr.staff import page_x

    g = deskew(piano_page.grey)
    box = find_staves(g)[0]
    page = g.copy()
    col = int(box.x0 + 0.6 * (box.x1 - box.x0))
    page[int(box.lines[0]) - 3:int(box.lines[4]) + 4, col:col + 3] = 0.0   # a 3 px vertical stroke
    strip = staff_strip(page, box).astype(np.float32)
    base = staff_strip(g, box).astype(np.float32)
    dark = np.flatnonzero((base - strip).sum(axis=0) > 0.5 * 255 * 10)
    assert dark.size
    centre = page_x(box, float(dark.mean()) + 0.5)
    assert abs(centre - (col + 1.5)) <= box.space * 12 / 64 + 0.5
