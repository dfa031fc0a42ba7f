"""Signal (b) of issue 13 (pianograd.omr.audio_pairs): the alignment of g's readings to h's notes and the
audio's confirmation and correction of a reading."""
import itertools

import numpy as np
import pytest

from pianograd.omr import audio_pairs as ap


def _brute_dtw(cost):
    n, m = cost.shape
    D = np.full((n, m), np.inf)
    for i, j in itertools.product(range(n), range(m)):
        best = 0.0 if i == j == 0 else min(D[i - 1, j - 1] if i and j else np.inf, D[i - 1, j] if i else np.inf,
                                           D[i, j - 1] if j else np.inf)
        D[i, j] = cost[i, j] + best
    return D[-1, -1]


@pytest.mark.parametrize("seed", range(6))
def test_dtw_path_is_optimal_and_monotone(seed):
    rng = np.random.default_rng(seed)
    cost = rng.random((rng.integers(1, 9), rng.integers(1, 12)))
    path = ap.dtw_path(cost)
    assert path[0] == (0, 0) and path[-1] == (cost.shape[0] - 1, cost.shape[1] - 1)
    steps = {(b[0] - a[0], b[1] - a[1]) for a, b in zip(path, path[1:])}
    assert steps <= {(1, 0), (0, 1), (1, 1)}
    assert sum(cost[i, j] for i, j in path) == pytest.approx(_brute_dtw(cost))


def _melody(rng, n=160):
    """Notes in quarters and the same notes played with a tempo that drifts and a held fermata."""
    q_on = np.cumsum(rng.choice([0.5, 1.0, 1.0, 2.0], n)) - 0.5
    keys = rng.integers(55, 80, n)
    read = np.stack([keys, q_on, q_on + 0.5], axis=1).astype(float)

    def to_s(q):
        return 0.5 + 0.45 * q + 0.04 * np.sin(q / 5.0) + 1.5 * (q > 40)  # 1.5 s of fermata at quarter 40

    heard = np.stack([keys, to_s(q_on) + rng.normal(0, 0.015, n), to_s(q_on + 0.5)], axis=1)
    return read, heard, to_s


def test_alignment_recovers_the_tempo_map():
    read, heard, to_s = _melody(np.random.default_rng(0))
    f = ap.align(read, heard)
    err = np.abs(f(read[:, 1]) - to_s(read[:, 1]))
    assert np.median(err) < 0.03 and np.percentile(err, 95) < ap.TOL_S
    assert ap.align(read[:0], heard) is None


def test_confirm_accepts_heard_readings_and_rejects_unheard_ones():
    tokens = "clef:G2 time:4/4 C4 1 D4 1 E4 1 F4 1 |".split()
    to_s = lambda q: 1.0 + 0.5 * np.asarray(q)  # noqa: E731
    heard = np.array([[60, 1.0, 1.5], [62, 1.5, 2.0], [64, 2.0, 2.5], [65, 2.5, 3.0]])
    assert ap.confirm(tokens, 0.0, to_s, heard) == tokens
    assert ap.confirm(tokens, 1.0, to_s, heard) is None  # the same notes a beat later are not what sounds
    assert ap.confirm(tokens, 0.0, to_s, heard[:3]) is None  # F4 is not heard
    assert ap.confirm(tokens, 0.0, to_s, heard[:3], share=0.75) == tokens  # three of four are enough


def test_confirm_restores_a_missed_accidental_only_where_nothing_else_explains_it():
    tokens = "clef:G2 time:4/4 C4 1 D4 1 E4 1 F4 1 |".split()
    to_s = lambda q: 1.0 + 0.5 * np.asarray(q)  # noqa: E731
    heard = np.array([[60, 1.0, 1.5], [62, 1.5, 2.0], [64, 2.0, 2.5], [66, 2.5, 3.0]])  # F#4 sounds
    nothing = np.zeros((0, 2))
    assert ap.confirm(tokens, 0.0, to_s, heard) is None  # without correction: F4 is not heard
    fixed = ap.confirm(tokens, 0.0, to_s, heard, read_elsewhere=nothing)
    assert fixed == "clef:G2 time:4/4 C4 1 D4 1 E4 1 F#4 1 |".split()
    # Another staff reads that F#4 at that moment: the heard note is accounted for, no correction.
    assert ap.confirm(tokens, 0.0, to_s, heard, read_elsewhere=np.array([[66, 2.5]])) is None
    # A whole tone away is not corrected (another voice's neighbour note).
    heard2 = heard.copy()
    heard2[3, 0] = 67
    assert ap.confirm(tokens, 0.0, to_s, heard2, read_elsewhere=nothing) is None


def test_respell():
    assert ap._respell("B3", 1) == "B#3" and ap._respell("Eb4", 1) == "E4" and ap._respell("C##5", -1) == "C#5"
    assert ap._respell("C#5", 1) is None and ap._respell("Bb3", -1) is None and ap._respell("r", 1) is None


def test_pseudo_labels_work_by_work():
    """Two staves of one work placed at their bars: each confirmed on its own; an unknown work is left."""
    rng = np.random.default_rng(1)
    bars = [0.0, 4.0, 8.0, 12.0]
    first = "clef:G2 time:4/4 C5 1 E5 1 G5 1 E5 1 | D5 2 B4 2 |".split()
    second = "clef:G2 time:4/4 A4 1 C5 1 E5 1 C5 1 | B4 4 |".split()

    def to_s(q):
        return 0.3 + 0.6 * np.asarray(q)

    notes = [(72, 0), (76, 1), (79, 2), (76, 3), (74, 4), (71, 6), (69, 8), (72, 9), (76, 10), (72, 11), (71, 12)]
    heard = np.array([[k, to_s(q) + rng.normal(0, 0.01), to_s(q) + 0.5] for k, q in notes])
    metas = [{"piece": "w", "bars": [0, 1]}, {"piece": "w", "bars": [2, 3]}, {"piece": "other", "bars": [0, 1]}]
    wrong = "clef:G2 time:4/4 C5 1 E5 1 G5 1 E5 1 | D5 2 G4 2 |".split()
    out = ap.audio_pseudo_labels([first, second, first], metas, {"w": heard}, {"w": bars})
    assert out == [first, second, None]
    out = ap.audio_pseudo_labels([wrong, second, None], metas, {"w": heard}, {"w": bars})
    assert out[0] is None and out[1] == second and out[2] is None
