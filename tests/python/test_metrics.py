"""The C++ transcription metrics (pg.note_metrics / frame_metrics / transcription_metrics) against mir_eval
0.8 on many random reference/estimate pairs, and the evaluation report writer.

mir_eval gets exactly what the C++ side compares: the sounding notes (pg.sounding_notes: pedal-extended,
re-strikes cut) in the same order, pitches in Hz (its 50-cent tolerance = equal MIDI keys). Onsets are
drawn partly on a 10 ms grid so that distances of exactly 50 ms (and 0.2 x duration) occur, which only
agree when the C++ side mirrors mir_eval's rounding of distances to 0.1 ms and its `<=`.

Frame metrics relate to mir_eval.multipitch as follows: fed the same frame grid (the frame rolls of
pg.performance_to_rolls, one frequency per active key and frame), multipitch's Precision and Recall are
exactly our frame precision and recall (its per-frame matching can only pair equal keys), and our F1 is
2PR/(P+R) of those — multipitch itself reports no F-measure.
"""
import json
import warnings

import numpy as np
import pytest

import pianograd as pg

mir_eval = pytest.importorskip("mir_eval")
import mir_eval.multipitch  # noqa: E402
import mir_eval.transcription  # noqa: E402
import mir_eval.transcription_velocity  # noqa: E402

TOL = 1e-9


def hz(keys):
    return 440.0 * 2.0 ** ((np.asarray(keys, dtype=np.float64) - 69.0) / 12.0)


def as_arrays(perf, pedal_extend=True):
    notes = pg.sounding_notes(perf, pedal_extend=pedal_extend)
    iv = np.array([[n.onset, n.offset] for n in notes], dtype=np.float64).reshape(-1, 2)
    keys = np.array([n.key for n in notes], dtype=np.float64)
    vel = np.array([n.velocity for n in notes], dtype=np.float64)
    return iv, hz(keys), vel


def mir_note(ref, est, with_offset, with_velocity, pedal_extend=True):
    ri, rp, rv = as_arrays(ref, pedal_extend)
    ei, ep, ev = as_arrays(est, pedal_extend)
    ratio = 0.2 if with_offset else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if with_velocity:
            return mir_eval.transcription_velocity.precision_recall_f1_overlap(ri, rp, rv, ei, ep, ev, offset_ratio=ratio)
        return mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep, offset_ratio=ratio)


def mir_frame(ref, est, frame_rate, pedal_extend=True):
    n = max(pg.performance_to_rolls(p, frame_rate, pedal_extend=pedal_extend)["frame"].shape[0] for p in (ref, est))
    rolls = [pg.performance_to_rolls(p, frame_rate, pedal_extend=pedal_extend, num_frames=n)["frame"].numpy() > 0.5
             for p in (ref, est)]
    times = np.arange(n) / frame_rate
    freqs = [[hz(21 + np.flatnonzero(row)) for row in roll] for roll in rolls]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = mir_eval.multipitch.metrics(times, freqs[0], times, freqs[1])
    return m[0], m[1], int(rolls[0].sum()), int(rolls[1].sum())


def random_pair(rng):
    """A reference and a degraded estimate: dropped, extra, shifted, re-pitched notes, rescaled noisy velocities,
    a few keys only (so same-key notes compete for matches), onsets often on a 10 ms grid (tolerance edges)."""
    n = int(rng.integers(0, 40))
    keys = rng.integers(58, 66, n)
    grid = rng.random() < 0.5
    onsets = np.round(rng.uniform(0, 6, n), 2) if grid else rng.uniform(0, 6, n)
    durs = np.round(rng.uniform(0.05, 1.2, n), 2) if grid else rng.uniform(0.03, 1.2, n)
    vels = rng.integers(1, 128, n)
    ref = [(int(k), float(o), float(o + d), int(v)) for k, o, d, v in zip(keys, onsets, durs, vels)]
    pedal = []
    if rng.random() < 0.4:
        t = np.sort(np.round(rng.uniform(0, 7, 6), 2))
        pedal = [(float(x), float(i % 2 == 0)) for i, x in enumerate(t)]
    a, b = rng.uniform(0.3, 1.5), rng.uniform(-10, 30)
    est = []
    for k, o, off, v in ref:
        if rng.random() < 0.15:
            continue
        if rng.random() < 0.05:
            k = int(np.clip(k + rng.choice([-1, 1]), 21, 108))
        if grid:
            do, doff = rng.integers(-6, 7) / 100.0, rng.integers(-15, 16) / 100.0
        else:
            do, doff = rng.normal(0, 0.03), rng.normal(0, 0.1)
        o2 = max(0.0, o + do)
        off2 = max(o2 + 0.01, off + doff)
        v2 = int(np.clip(round(a * v + b + rng.normal(0, 6)), 1, 127))
        est.append((k, float(o2), float(off2), v2))
    for _ in range(int(rng.integers(0, 5))):
        o = float(rng.uniform(0, 6))
        est.append((int(rng.integers(58, 66)), o, o + float(rng.uniform(0.05, 1.0)), int(rng.integers(1, 128))))
    est_pedal = pedal if rng.random() < 0.5 else []
    return pg.Performance(ref, pedal), pg.Performance(est, est_pedal)


def check_prf(ours, theirs):
    p, r, f, overlap = theirs
    assert ours["precision"] == pytest.approx(p, abs=TOL)
    assert ours["recall"] == pytest.approx(r, abs=TOL)
    assert ours["f1"] == pytest.approx(f, abs=TOL)
    assert ours["overlap"] == pytest.approx(overlap, abs=TOL)


@pytest.mark.parametrize("seed", range(30))
def test_note_metrics_match_mir_eval(seed):
    rng = np.random.default_rng(seed)
    for _ in range(10):
        ref, est = random_pair(rng)
        for with_offset in (False, True):
            for with_velocity in (False, True):
                ours = pg.note_metrics(ref, est, with_offset=with_offset, with_velocity=with_velocity)
                check_prf(ours, mir_note(ref, est, with_offset, with_velocity))
                assert ours["n_ref"] == len(ref.notes) and ours["n_est"] == len(est.notes)
                assert ours["n_matched"] == round(ours["recall"] * len(ref.notes))


@pytest.mark.parametrize("seed", range(10))
def test_note_metrics_without_pedal_extension_match_mir_eval(seed):
    rng = np.random.default_rng(1000 + seed)
    for _ in range(5):
        ref, est = random_pair(rng)
        ours = pg.note_metrics(ref, est, with_offset=True, pedal_extend=False)
        check_prf(ours, mir_note(ref, est, True, False, pedal_extend=False))


@pytest.mark.parametrize("seed", range(20))
def test_frame_metrics_match_mir_eval_multipitch(seed):
    rng = np.random.default_rng(2000 + seed)
    for frame_rate in (31.25, 50.0, 100.0):
        ref, est = random_pair(rng)
        ours = pg.frame_metrics(ref, est, frame_rate=frame_rate)
        p, r, n_ref, n_est = mir_frame(ref, est, frame_rate)
        assert (ours["n_ref"], ours["n_est"]) == (n_ref, n_est)
        assert ours["precision"] == pytest.approx(p, abs=TOL)
        assert ours["recall"] == pytest.approx(r, abs=TOL)
        assert ours["f1"] == pytest.approx(0.0 if p + r == 0 else 2 * p * r / (p + r), abs=TOL)


@pytest.mark.parametrize("seed", range(5))
def test_transcription_metrics_bundles_every_kind(seed):
    ref, est = random_pair(np.random.default_rng(3000 + seed))
    m = pg.transcription_metrics(ref, est, frame_rate=62.5)
    assert set(m) == {"note", "note_offset", "note_offset_velocity", "frame", "pedal", "pedal_onset"}
    assert m["pedal"] == pg.pedal_metrics(ref, est)
    assert m["pedal_onset"] == pg.pedal_metrics(ref, est, with_offset=False)
    assert m["note"] == pg.note_metrics(ref, est)
    assert m["note_offset"] == pg.note_metrics(ref, est, with_offset=True)
    assert m["note_offset_velocity"] == pg.note_metrics(ref, est, with_offset=True, with_velocity=True)
    assert m["frame"] == pg.frame_metrics(ref, est, frame_rate=62.5)


def test_empty_inputs_follow_mir_eval():
    ref = pg.Performance([(60, 0.0, 0.5, 64), (62, 0.5, 1.0, 70)])
    empty = pg.Performance([])
    for r, e in ((ref, empty), (empty, ref), (empty, empty)):
        for with_offset in (False, True):
            for with_velocity in (False, True):
                ours = pg.note_metrics(r, e, with_offset=with_offset, with_velocity=with_velocity)
                check_prf(ours, mir_note(r, e, with_offset, with_velocity))
        f = pg.frame_metrics(r, e)
        assert (f["precision"], f["recall"], f["f1"]) == (0.0, 0.0, 0.0)


def test_accepts_note_lists_and_rejects_bad_input():
    notes = [(60, 0.0, 0.5, 64)]
    assert pg.note_metrics(notes, notes)["f1"] == 1.0
    with pytest.raises(ValueError, match="onset_tolerance"):
        pg.note_metrics(notes, notes, onset_tolerance=-1.0)
    with pytest.raises(ValueError, match="frame_rate"):
        pg.frame_metrics(notes, notes, frame_rate=0.0)
    with pytest.raises(ValueError):
        pg.transcription_metrics([(60, 1.0, 0.5, 64)], notes)


def test_write_eval_report(tmp_path):
    from pianograd.transcription import write_eval_report

    rng = np.random.default_rng(7)
    results = [("piece a", *random_pair(rng)), ("b/excerpt 2", *random_pair(rng)),
               ("empty estimate", pg.Performance([(60, 0.0, 0.5, 64)]), pg.Performance([]))]
    out = tmp_path / "eval"
    summary = write_eval_report(out, results, frame_rate=50.0, title="unit test")
    data = json.loads((out / "metrics.json").read_text())
    assert data == json.loads(json.dumps(summary))
    assert data["n_items"] == 3 and data["title"] == "unit test"
    for item, (name, ref, est) in zip(data["items"], results):
        assert item["name"] == name
        expected = pg.transcription_metrics(ref, est, frame_rate=50.0)
        for kind, prf in expected.items():
            assert item[kind] == pytest.approx(prf, abs=1e-12)
    for kind in ("note", "note_offset", "note_offset_velocity", "frame"):
        assert data["mean"][kind]["f1"] == pytest.approx(np.mean([it[kind]["f1"] for it in data["items"]]))
    md = (out / "report.md").read_text()
    assert "| **mean** |" in md and "piece a" in md and md.count("\n| ") == 5  # header + 3 items + mean
    for png in ("piece_a_roll.png", "b_excerpt_2_roll.png", "empty_estimate_roll.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"({png})" in md
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
