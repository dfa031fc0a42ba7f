"""The data pipeline (python/pianograd/data): performances, splits, humanisation, MIDI, FluidSynth
audio, caching and the pair budget. The end-to-end tests prepare a 3-chorale set with 4 s excerpts."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import pianograd as pg
from pianograd.data import (
    HumanizeConfig, Note, Performance, catalog, excerpts, load_audio, load_manifest, perform,
    select_pieces, split_of, with_pair_budget,
)
from pianograd.data.cli import main as data_main
from pianograd.data.humanize import resolve_same_key, truncated_normal
from pianograd.data.prepare import DataConfig, excerpt_windows, prepare
from pianograd.data.render import RenderConfig, find_fluidsynth, find_soundfont, render_note
from pianograd.data.score import ScoreData, ScoreNote, fold_to_piano
from pianograd.data.splits import labelled_subset

HAVE_FLUID = find_fluidsynth() is not None and find_soundfont() is not None
needs_fluid = pytest.mark.skipif(not HAVE_FLUID, reason="FluidSynth or a GM SoundFont is not installed "
                                 "(Debian packages fluidsynth, fluid-soundfont-gm; scripts/bootstrap.sh)")

TINY = DataConfig(name="tiny", pieces=3, seed=7, n_pairs=1, categories=("chorale",), excerpt_s=4.0,
                  min_notes=4, audio=HAVE_FLUID)


# ---------------------------------------------------------------------------------------------------
# Performances and MIDI


def test_the_data_set_uses_the_engines_performance_type():
    assert Performance is pg.Performance and Note is pg.Note  # one type (issue 14): no Python mirror
    assert (pg.MIN_KEY, pg.MAX_KEY, pg.NUM_KEYS) == (21, 108, 88)


def test_midi_round_trip_is_exact(tmp_path):
    p = Performance([Note(60, 0.1, 0.6, 80), Note(64, 0.1, 1.2, 70), Note(60, 0.7, 0.9, 1),
                     Note(21, 2.0, 2.5, 127), Note(108, 2.0, 2.001, 64)],
                    [(0.05, 1.0), (0.8, 0.0), (1.0, 1.0), (3.0, 0.0)]).quantized()
    p.to_midi(tmp_path / "a.mid")
    q = pg.read_midi(tmp_path / "a.mid")
    assert q.notes == p.notes
    assert [(t, round(v * 127)) for t, v in q.pedal] == [(t, round(v * 127)) for t, v in p.pedal]


def test_json_round_trip_and_arrays(tmp_path):
    p = Performance([Note(60, 0.1, 0.6, 80), Note(64, 0.25, 1.2, 70)], [(0.05, 1.0), (0.8, 0.0)])
    assert p.to_dict() == {"notes": [[60, 0.1, 0.6, 80], [64, 0.25, 1.2, 70]], "pedal": [[0.05, 1.0], [0.8, 0.0]]}
    p.save_json(tmp_path / "p.json")
    assert Performance.load_json(tmp_path / "p.json") == p == Performance.from_dict(p.to_dict())
    a = p.to_arrays()
    assert a["key"].tolist() == [60, 64] and a["onset"].dtype == np.float64 and a["pedal"].shape == (2, 2)
    with pytest.raises(ValueError, match="note 0 key"):
        Performance.from_dict({"notes": [[12, 0.0, 1.0, 64]]})


def test_quantized_keeps_one_step_and_sorts():
    q = Performance([Note(62, 0.0104, 0.0106, 50), Note(60, 0.0004, 0.5, 40)]).quantized(0.001)
    assert [(n.key, n.onset, n.offset) for n in q.notes] == [(60, 0.0, 0.5), (62, 0.01, 0.011)]


@pytest.mark.parametrize("bad, msg", [
    (Note(20, 0.0, 1.0, 64), "note 1 key: expected 21..108, got 20"), (Note(60, 1.0, 1.0, 64), "note 1 offset"),
    (Note(60, -0.1, 1.0, 64), "note 1 onset"), (Note(60, 0.0, 1.0, 0), "note 1 velocity: expected 1..127, got 0"),
    (Note(60, 0.0, float("nan"), 64), "note 1 offset"),
])
def test_validate_names_the_bad_field(bad, msg):
    with pytest.raises(ValueError, match=msg):
        Performance([Note(60, 0.0, 1.0, 64), bad]).validate()
    with pytest.raises(ValueError, match="pedal point 1"):
        Performance([], [(1.0, 1.0), (0.5, 0.0)]).validate()


def test_window_carries_and_lifts_the_pedal():
    p = Performance([Note(60, 0.5, 3.0, 80), Note(62, 2.2, 2.8, 80), Note(64, 4.5, 5.0, 80)],
                    [(0.0, 1.0), (2.5, 0.0), (2.6, 1.0)])
    w = p.window(2.0, 4.0)
    assert w.notes == [Note(62, 0.2, 0.8, 80)]          # a note begun before the window is not in it
    assert w.pedal[0] == (0.0, 1.0) and w.pedal[-1] == (2.0, 0.0)  # state carried in, lifted at the cut


def test_sounding_notes_follow_the_pedal():
    p = Performance([Note(60, 0.0, 0.5, 80), Note(60, 2.0, 2.5, 80), Note(67, 3.0, 3.2, 80)],
                    [(0.2, 1.0), (1.0, 0.0), (1.1, 1.0), (4.0, 0.0)])
    assert [n.offset for n in pg.sounding_notes(p)] == [1.0, 4.0, 4.0]


def test_fold_to_piano_keeps_pitch_class():
    for m in range(128):
        k = fold_to_piano(m)
        assert 21 <= k <= 108 and (k - m) % 12 == 0


# ---------------------------------------------------------------------------------------------------
# Splits and the pair budget


def test_splits_are_disjoint_by_work_and_stable_across_sizes():
    pool = list(catalog())
    assert len(pool) > 300 and {p.category for p in pool} == {"keyboard", "song", "chorale", "quartet"}
    small = select_pieces(pool, 12, seed=3)
    big = select_pieces(pool, 120, seed=3)
    for sel in (small, big):
        groups = {s: {p.group for p in sel[s]} for s in sel}
        assert not groups["train"] & groups["test"] and not groups["train"] & groups["valid"]
        assert not groups["valid"] & groups["test"]
    # A test piece of the small set is never a training (or validation) piece of the big one.
    small_test = {p.group for p in small["test"]}
    assert not small_test & {p.group for p in big["train"] + big["valid"]}
    # Larger K extends smaller K within each split.
    for s in small:
        assert [p.id for p in big[s][: len(small[s])]] == [p.id for p in small[s]]
    # Every movement of a multi-movement work lands in one split.
    for p in pool:
        if p.group == "mozart/k458":
            assert split_of(p.group, 3, 0.1, 0.1) == split_of("mozart/k458", 3, 0.1, 0.1)
    assert select_pieces(pool, 12, seed=4) != small


def test_pair_budget_is_nested_and_bounded():
    train = [f"p{i}" for i in range(30)]
    sets = [set(labelled_subset(train, n, seed=1)) for n in (0, 4, 16, 64)]
    assert [len(s) for s in sets] == [0, 4, 16, 30]
    assert sets[0] <= sets[1] <= sets[2] <= sets[3]
    with pytest.raises(ValueError):
        labelled_subset(train, -1, seed=1)


# ---------------------------------------------------------------------------------------------------
# Humanisation (on a hand-made score: no music21 needed)


def _toy_score() -> ScoreData:
    notes = []
    for bar in range(8):
        for beat in range(4):
            q = bar * 4 + beat
            notes += [ScoreNote(72 + (beat % 3), q, 1.0, bar == 3 and beat == 3),
                      ScoreNote(60, q, 1.0, False), ScoreNote(60, q, 1.0, False),  # a unison
                      ScoreNote(36 + bar % 5, q, 2.0 if beat % 2 == 0 else 1.0, False)]
    return ScoreData("toy", notes, bars=[4.0 * b for b in range(8)], beat_q=1.0, tempo_qpm=None,
                     dynamics=[(0.0, 0.35), (16.0, 0.7)], length_q=32.0)


def test_perform_is_deterministic_and_in_range():
    sd = _toy_score()
    a, fa = perform(sd, "chorale", seed=11)
    b, fb = perform(sd, "chorale", seed=11)
    c, _ = perform(sd, "chorale", seed=12)
    assert a == b and fa == fb and a != c
    a.validate()
    assert all(21 <= n.key <= 108 and 1 <= n.velocity <= 127 for n in a.notes)
    lo, hi = HumanizeConfig().velocity_range
    assert all(lo <= n.velocity <= hi for n in a.notes)
    # One key never sounds twice at once (the unison on 60 was merged).
    for k in {n.key for n in a.notes}:
        ns = sorted((n for n in a.notes if n.key == k), key=lambda n: n.onset)
        assert all(x.offset <= y.onset for x, y in zip(ns, ns[1:]))
    assert sum(n.key == 60 for n in a.notes) == 32
    # Dynamics: the f half is louder than the p half.
    soft = np.mean([n.velocity for n in a.notes if n.onset < a.duration * 0.4])
    loud = np.mean([n.velocity for n in a.notes if n.onset > a.duration * 0.6])
    assert loud > soft + 10


def test_timing_jitter_stays_within_its_bound():
    sd = _toy_score()
    cfg = HumanizeConfig(onset_sigma=0.02, jitter_clip=2.5, pedal_prob=1.0)
    exact, _ = perform(sd, "chorale", 5, HumanizeConfig(onset_sigma=0.0, pedal_prob=1.0))
    jit, _ = perform(sd, "chorale", 5, cfg)
    # Tempo, dynamics and pedal streams are independent of the timing stream: same tempo map, so
    # every onset moved by at most 2.5 sigma, plus one common lead-in shift.
    eo = sorted((n.key, n.onset) for n in exact.notes)
    jo = sorted((n.key, n.onset) for n in jit.notes)
    assert len(eo) == len(jo)
    d = np.array([j[1] - e[1] for e, j in zip(eo, jo)])
    d -= np.median(d)  # the lead-in shift may differ by the earliest jitter
    assert np.abs(d).max() <= 2 * 2.5 * 0.02 + 1e-6
    assert np.abs(d).max() > 0.01  # the jitter is actually applied
    assert jit.pedal and all(v in (0.0, 1.0) for _, v in jit.pedal)
    times = [t for t, _ in jit.pedal]
    assert times == sorted(times)
    x = truncated_normal(np.random.default_rng(0), 1.0, 3.0, 100000)
    assert np.abs(x).max() <= 3.0 and 0.95 < x.std() < 1.05


def test_fermata_chord_is_stretched_once():
    chords = [(q, q == 4.0) for q in range(8)]
    notes = [ScoreNote(p, float(q), 1.0, f) for q, f in chords for p in (48, 55, 64, 72)]
    sd = ScoreData("ferm", notes, bars=[0.0, 4.0], beat_q=1.0, tempo_qpm=60.0, length_q=8.0)
    cfg = HumanizeConfig(onset_sigma=0, offset_sigma=0, tempo_drift=0, phrase_rit=0, tempo_jitter=0,
                         articulation=(1.0, 1.0), articulation_sigma=0, pedal_prob=0)
    p, facts = perform(sd, "chorale", 1, cfg)
    assert facts["qpm"] == 60.0
    on = sorted({n.onset for n in p.notes})
    ioi = np.diff(on)
    assert np.allclose(ioi[:4], 1.0) and np.allclose(ioi[5:], 1.0)
    assert 1.4 <= ioi[4] <= 2.0  # one U(1.4, 2.0) stretch, not one per chord member


def test_resolve_same_key_merges_unisons_and_releases_before_restrike():
    p = Performance([Note(60, 0.0, 1.0, 50), Note(60, 0.01, 0.5, 90), Note(60, 0.8, 1.5, 70)])
    r = resolve_same_key(p, 0.04)
    assert r.notes == [Note(60, 0.0, 0.78, 90), Note(60, 0.8, 1.5, 70)]


def test_excerpt_windows_are_bounded():
    perf, _ = perform(_toy_score(), "keyboard", 3)
    ws = excerpt_windows(perf.quantized(), 3.0, 4, 4)
    assert 2 <= len(ws) <= 4
    for start, w in ws:
        assert w.duration <= 3.0 + 1e-9 and min(n.onset for n in w.notes) >= 0
    assert [s for s, _ in ws] == sorted(s for s, _ in ws)


# ---------------------------------------------------------------------------------------------------
# End to end: music21 corpus -> performances -> MIDI -> FluidSynth


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    manifest, stats = prepare(TINY, out, jobs=1, progress=False)
    return out, manifest, stats


def test_prepare_writes_valid_labels_and_splits(tiny):
    out, m, stats = tiny
    assert stats["score_misses"] == 3 and stats["midi_misses"] == len(m["excerpts"]) >= 3
    sp = m["splits"]
    assert [len(sp[s]) for s in ("train", "valid", "test")] == [1, 1, 1]
    assert len({m["groups"][p] for s in sp for p in sp[s]}) == 3
    assert m["n_pairs"] == 1 and m["labelled_train"] == sp["train"]
    for e in m["excerpts"]:
        p = Performance.load_json(out / e["labels"])
        p.validate()
        assert p.notes and all(21 <= n.key <= 108 and 1 <= n.velocity <= 127 for n in p.notes)
        assert p.duration <= TINY.excerpt_s + 1e-9
        assert pg.read_midi(out / e["midi"]).notes == p.notes


def test_prepare_second_run_hits_the_cache_and_is_identical(tiny):
    out, m, _ = tiny
    before = (out / "manifest.json").read_bytes()
    m2, stats = prepare(TINY, out, jobs=1, progress=False)
    assert stats["score_misses"] == 0 and stats["midi_misses"] == 0 and stats["wav_misses"] == 0
    assert stats["score_hits"] == 3 and stats["midi_hits"] == len(m["excerpts"])
    assert (out / "manifest.json").read_bytes() == before and m2 == m


def test_prepare_is_deterministic_across_folders(tiny, tmp_path):
    out, m, _ = tiny
    m2, _ = prepare(TINY, tmp_path, jobs=1, progress=False)
    assert m2 == m
    for e in m["excerpts"]:
        for k in ("labels", "midi", "wav"):
            if e.get(k):
                assert (out / e[k]).read_bytes() == (tmp_path / e[k]).read_bytes(), (e["id"], k)
    other, _ = prepare(DataConfig.from_dict({"seed": 8, "audio": False}, TINY), tmp_path / "s8",
                       jobs=1, progress=False)
    assert other["splits"] != m["splits"] or other["excerpts"][0]["hash"] != m["excerpts"][0]["hash"]


def test_pair_budget_withholds_labels(tiny):
    out, _, _ = tiny
    m = load_manifest(out)
    (lab,) = excerpts(m, "train", labelled=True)[:1]
    assert lab.performance().notes
    m0 = with_pair_budget(m, 0)
    assert m0["n_pairs"] == 0 and m0["unlabelled_train"] == m["splits"]["train"]
    un = excerpts(m0, "train")
    assert un and all(not e.labelled and e.labels is None for e in un)
    with pytest.raises(PermissionError):
        un[0].performance()
    assert all(e.labelled for e in excerpts(m0, "test"))  # evaluation data keeps its labels


@needs_fluid
def test_fluidsynth_audio_is_nonsilent_with_right_length(tiny):
    out, m, stats = tiny
    assert m["sample_rate"] == 16000 and m["renderer"]["soundfont"]
    for e in m["excerpts"]:
        x, sr = load_audio(out / e["wav"])
        assert sr == 16000
        assert len(x) == round((e["duration_s"] + TINY.render.tail_s) * sr) == e["samples"]
        assert np.sqrt(np.mean(x**2)) > 1e-3 and 0 < np.abs(x).max() < 0.999
        # Sound starts no earlier than the first onset (minus a 10 ms margin).
        first = min(n.onset for n in Performance.load_json(out / e["labels"]).notes)
        pre = x[: max(0, int((first - 0.01) * sr))]
        assert pre.size == 0 or np.abs(pre).max() < 1e-3


@needs_fluid
def test_render_note_length_rate_and_loudness(tmp_path):
    cfg = RenderConfig(reverb=False, tail_s=0.5)
    soft = render_note(60, 30, 0.5, tmp_path / "n.wav", cfg)
    loud = render_note(60, 110, 0.5, None, cfg)
    x, sr = load_audio(tmp_path / "n.wav")
    assert sr == 16000 and len(x) == len(soft) == 16000
    assert np.abs(loud).max() > 2 * np.abs(soft).max() > 0
    assert np.allclose(x, soft, atol=1.0 / 32768 + 1e-7)  # WAV is 16-bit
    with pytest.raises(ValueError, match="key 109"):
        render_note(109, 64, 0.5)


def test_cli_prepare_and_budget(tmp_path, capsys):
    out = tmp_path / "cli"
    rc = data_main(["prepare", "--out", str(out), "--pieces", "3", "--seed", "7", "--n-pairs", "1",
                    "--categories", "chorale", "--seconds", "4", "--no-audio", "--quiet", "--jobs", "1"])
    assert rc == 0 and "1 train / 1 valid / 1 test" in capsys.readouterr().out
    m = json.loads((out / "manifest.json").read_text())
    assert m["n_pairs"] == 1 and all(e["wav"] is None for e in m["excerpts"])
    assert data_main(["budget", str(out), "--n-pairs", "0"]) == 0
    assert json.loads((out / "manifest.json").read_text())["n_pairs"] == 0
    assert data_main(["prepare", "--out", str(out), "--pieces", "2", "--no-audio", "--quiet"]) == 2
    shutil.rmtree(out)
