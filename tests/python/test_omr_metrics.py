"""The C++ OMR metrics (pg.edit_distance / symbol_error_rate / omr_note_f1) against independent
implementations on random cases: a plain-Python Levenshtein DP, mir_eval.transcription's note matching
(beats fed as seconds, pitches as Hz, so its 50-cent tolerance means equal MIDI numbers), and for the
duration criterion — which mir_eval has no counterpart for (its offset rule mixes onset and duration
errors) — a maximum matching by scipy's linear_sum_assignment over a compatibility matrix built here.

Onsets and durations sit on a grid with jitters far from the tolerance (0.4 ms-beat or >= 2x the
tolerance), so mir_eval's rounding of distances to 1e-4 and our 1e-9 slack cannot make the two disagree.
"""
import warnings

import numpy as np
import pytest

import pianograd as pg

mir_eval = pytest.importorskip("mir_eval")
import mir_eval.transcription  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402


def py_edit_distance(a, b):
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    return d[len(a)][len(b)]


def test_edit_distance_matches_python_dp():
    rng = np.random.default_rng(0)
    for _ in range(400):
        k = int(rng.integers(1, 6))
        a = rng.integers(0, k, int(rng.integers(0, 25))).tolist()
        b = rng.integers(0, k, int(rng.integers(0, 25))).tolist()
        assert pg.edit_distance(a, b) == py_edit_distance(a, b), (a, b)
        assert pg.edit_distance(np.array(a, np.int64), b) == py_edit_distance(a, b)


def test_edit_distance_on_symbol_strings():
    a = ["clef-G2", "note-C4_quarter", "note-D4_quarter", "barline"]
    b = ["clef-G2", "note-C4_half", "note-D4_quarter"]
    assert pg.edit_distance(a, b) == 2
    assert pg.edit_distance("kitten", "sitting") == 3  # a str is a sequence of characters
    assert pg.edit_distance([], []) == 0


def test_symbol_error_rate_is_the_corpus_rate():
    rng = np.random.default_rng(1)
    preds, refs = [], []
    for _ in range(50):
        refs.append(rng.integers(0, 4, int(rng.integers(1, 30))).tolist())
        preds.append(rng.integers(0, 4, int(rng.integers(0, 30))).tolist())
    r = pg.symbol_error_rate(preds, refs)
    edits = sum(py_edit_distance(p, q) for p, q in zip(preds, refs))
    total = sum(len(q) for q in refs)
    assert r == {"ser": pytest.approx(edits / total, abs=1e-12), "edits": edits, "ref_tokens": total}
    assert pg.symbol_error_rate([["a", "b"]], [["a", "c", "d"]])["edits"] == 2
    with pytest.raises(ValueError, match="2 predictions for 1 references"):
        pg.symbol_error_rate([[1], [2]], [[1]])
    with pytest.raises(ValueError, match="no tokens"):
        pg.symbol_error_rate([[1]], [[]])


def hz(p):
    return 440.0 * 2.0 ** ((np.asarray(p, dtype=np.float64) - 69.0) / 12.0)


def random_notes(rng, n, tol):
    """(N, 4) [pitch, onset, duration, staff]: few pitches and a coarse grid, so that many notes compete."""
    pitch = rng.integers(60, 64, n)
    onset = rng.integers(0, 12, n) * 0.25
    dur = rng.choice([0.25, 0.5, 1.0], n)
    return np.stack([pitch, onset, dur, rng.integers(0, 2, n)], axis=1).astype(np.float64)


def perturb(rng, ref, tol):
    est = ref.copy()
    small, large = 0.4 * tol, 2.5 * tol
    est[:, 1] += rng.choice([0.0, small, -small, large, -large, 0.25], len(est), p=[0.4, 0.15, 0.15, 0.1, 0.1, 0.1])
    est[:, 2] += rng.choice([0.0, small, -small, large, -large], len(est), p=[0.5, 0.15, 0.15, 0.1, 0.1])
    est[:, 2] = np.maximum(est[:, 2], 0.01)
    est[:, 0] += rng.choice([0, 0, 0, 0, 1], len(est))
    est[:, 3] = rng.integers(0, 2, len(est))
    keep = rng.random(len(est)) > 0.15
    extra = random_notes(rng, int(rng.integers(0, 4)), tol)
    return np.concatenate([est[keep], extra])


def mir_onset_only(ref, est, tol):
    def iv(x):  # shifted by 1 beat: jitter can move an onset below 0, which mir_eval refuses
        return np.stack([x[:, 1] + 1.0, x[:, 1] + 1.0 + x[:, 2]], axis=1).reshape(-1, 2)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
            iv(ref), hz(ref[:, 0]), iv(est), hz(est[:, 0]), onset_tolerance=tol, offset_ratio=None)
    return p, r, f


def scipy_matching(ref, est, tol, dur_tol, with_duration, same_staff):
    if len(ref) == 0 or len(est) == 0:
        return 0
    ok = (ref[:, None, 0] == est[None, :, 0]) & (np.abs(ref[:, None, 1] - est[None, :, 1]) <= tol + 1e-9)
    if with_duration:
        ok &= np.abs(ref[:, None, 2] - est[None, :, 2]) <= dur_tol + 1e-9
    if same_staff:
        ok &= ref[:, None, 3] == est[None, :, 3]
    rows, cols = linear_sum_assignment(ok.astype(np.int64), maximize=True)
    return int(ok[rows, cols].sum())


@pytest.mark.parametrize("tol", [1e-3, 0.05])
def test_onset_f1_matches_mir_eval(tol):
    rng = np.random.default_rng(int(tol * 1e4))
    for trial in range(200):
        ref = random_notes(rng, int(rng.integers(0, 25)), tol)
        est = perturb(rng, ref, tol) if trial % 10 else random_notes(rng, int(rng.integers(0, 25)), tol)
        got = pg.omr_note_f1(ref, est, onset_tol=tol)
        p, r, f = mir_onset_only(ref, est, tol)
        assert got["precision"] == pytest.approx(p, abs=1e-12), (ref, est)
        assert got["recall"] == pytest.approx(r, abs=1e-12)
        assert got["f1"] == pytest.approx(f, abs=1e-12)
        assert got["matched"] == scipy_matching(ref, est, tol, 0, False, False)
        assert (got["n_ref"], got["n_est"]) == (len(ref), len(est))


@pytest.mark.parametrize("same_staff", [False, True])
def test_duration_and_staff_f1_match_scipy_matching(same_staff):
    rng = np.random.default_rng(5 + same_staff)
    for _ in range(200):
        tol, dur_tol = rng.choice([1e-3, 0.05]), rng.choice([1e-3, 0.1])
        ref = random_notes(rng, int(rng.integers(1, 25)), tol)
        est = perturb(rng, ref, min(tol, dur_tol))
        got = pg.omr_note_f1(ref, est, with_duration=True, onset_tol=tol, duration_tol=dur_tol, same_staff=same_staff)
        m = scipy_matching(ref, est, tol, dur_tol, True, same_staff)
        assert got["matched"] == m
        if len(est):
            assert got["precision"] == pytest.approx(m / len(est))
        assert got["recall"] == pytest.approx(m / len(ref))


def test_dict_and_array_inputs_agree():
    ref = [{"pitch": 60, "onset_beats": 0.0, "duration_beats": 1.0, "staff": 0},
           {"pitch": 48, "onset_beats": 0.0, "duration_beats": 2.0, "staff": 1},
           {"pitch": 64, "onset_beats": 1.0, "duration_beats": 0.5}]
    est = np.array([[60, 0.0005, 1.0], [48, 0.0, 1.0], [64, 1.0, 0.5]])
    d = pg.omr_note_f1(ref, est)
    assert d == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "matched": 3, "n_ref": 3, "n_est": 3}
    assert pg.omr_note_f1(ref, est, with_duration=True)["matched"] == 2
    assert pg.omr_note_f1(np.zeros((0, 3)), est)["f1"] == 0.0


@pytest.mark.parametrize("notes,exc,text", [
    ([{"pitch": 60, "onset_beats": 0.0}], ValueError, "missing 'duration_beats'"),
    ([{"pitch": 60.5, "onset_beats": 0.0, "duration_beats": 1.0}], ValueError, "pitch"),
    ([{"pitch": 60, "onset_beats": "1", "duration_beats": 1.0}], ValueError, "onset_beats"),
    ([{"pitch": 60, "onset_beats": float("nan"), "duration_beats": 1.0}], ValueError, "reference note 0"),
    ([{"pitch": 60, "onset_beats": 0.0, "duration_beats": -1.0}], ValueError, "duration"),
    ([(60, 0.0, 1.0)], ValueError, "expected a dict"),
    (np.zeros((2, 5)), ValueError, "(N, 3) or (N, 4)"),
    (np.array([[60.5, 0.0, 1.0]]), ValueError, "pitch"),
])
def test_bad_notes_raise_named_errors(notes, exc, text):
    with pytest.raises(exc) as info:
        pg.omr_note_f1(notes, [])
    assert text in str(info.value), str(info.value)


def test_bad_tolerances():
    with pytest.raises(ValueError, match="onset_tol"):
        pg.omr_note_f1([], [], onset_tol=-1.0)
    with pytest.raises(ValueError, match="duration_tol"):
        pg.omr_note_f1([], [], with_duration=True, duration_tol=float("inf"))
