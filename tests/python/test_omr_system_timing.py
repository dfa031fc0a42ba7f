"""One timeline for a system's staves (pianograd.omr.system_timing): bar lengths decided across the
staves, and a misread bar's notes put where the page prints them (x positions from g's CTC path)."""
from fractions import Fraction as Fr

from pianograd.omr.system_timing import StaffPositions, agreed_bars, anchor_bars
from pianograd.omr.tokens import tokens_to_notes


def read(seq):
    marks = []
    return tokens_to_notes(seq.split(), strict=False, bars=marks), marks


def test_bar_lengths_are_decided_across_the_staves_of_a_system():
    """A misread duration in one staff moves the rest of its bar only: each bar starts where the staves
    (or, when two disagree, the metre) say, and a short bar the staves agree on keeps its length."""
    upper = read("time:3/4 C5 1 | D5 3 | E5 1 F5 2 | G5 3")          # a one-beat pickup, then full bars
    lower = read("time:3/4 C3 1 | D3 1 E3 1/2 | F3 3 | G3 2 A3 1")    # bar 2 misread as 1.5 beats
    notes, length = anchor_bars([upper[0], lower[0]], [upper[1], lower[1]], Fr(3))
    assert length == 10
    assert [(n.pitch, n.onset) for n in notes[1]] == [(48, 0), (50, 1), (52, 2), (53, 4), (55, 7), (57, 9)]
    assert [(n.pitch, n.onset) for n in notes[0]] == [(72, 0), (74, 1), (76, 4), (77, 5), (79, 7)]
    # Three staves: the majority's length wins even against the metre.
    third = read("time:3/4 C4 1 | D4 2 | E4 3 | G4 3")
    _, length = anchor_bars([lower[0], third[0], third[0]], [lower[1], third[1], third[1]], Fr(3))
    assert length == 9
    # Bar counts that differ leave the readings as they are.
    assert anchor_bars([upper[0], third[0]], [upper[1], read("C4 1 | D4 3")[1]], Fr(3)) is None


def test_bar_and_system_lengths_stay_on_the_beat():
    """A bar both staves misread by a quarter of a beat (a lost dot, a misread tuplet) is put back on the
    beat grid, so the page's later notes stay on the beat; a pickup (the page's first bar) keeps any
    length; without a time signature nothing moves."""
    from pianograd.omr.system_timing import system_length

    upper = read("time:3/4 C5 1/2 | D5 3/2 E5 3/4 F5 1 | G5 3")   # pickup of an eighth; bar 2 read 3.25
    lower = read("time:3/4 C3 1/2 | D3 3/2 E3 3/4 F3 1 | G3 3")
    notes, length = anchor_bars([upper[0], lower[0]], [upper[1], lower[1]], Fr(3), Fr(1), free_first=True)
    assert length == Fr(13, 2)  # 1/2 + 3 + 3
    assert [n.onset for n in notes[0]][-1] == Fr(7, 2)
    _, unsnapped = anchor_bars([upper[0], lower[0]], [upper[1], lower[1]], Fr(3))
    assert unsnapped == Fr(27, 4)
    _, pickup_snapped = anchor_bars([upper[0], lower[0]], [upper[1], lower[1]], Fr(3), Fr(1))
    assert pickup_snapped == 7  # the eighth pickup onto a whole beat: what free_first prevents
    # Staves that cannot be lined up: the chosen staff's length goes onto the grid, after its first bar.
    readings = [[Fr(1, 2), Fr(7, 2), Fr(61, 8)], [Fr(1, 2), Fr(2)]]
    assert system_length(readings, Fr(3), Fr(1), free_first=True) == Fr(15, 2)
    assert system_length(readings, Fr(3), Fr(1)) == 8
    assert system_length(readings, Fr(3)) == Fr(61, 8)


def test_a_bar_split_at_a_repeat_keeps_its_short_length():
    """Two beats before a repeat sign and one after: where the staves disagree on the first part, what
    completes the agreed short part to the metre's bar wins over the metre's bar."""
    upper = read("time:3/4 C5 3 | D5 1 E5 2/3 | F5 1 | G5 3")      # the split bar's first part misread
    lower = read("time:3/4 C3 3 | D3 2 | F3 1 | G3 3")
    assert agreed_bars([upper[1], lower[1]], Fr(3), Fr(1)) == [3, 2, 1, 3]
    # Without a short bar after it, a tie still goes to the metre.
    upper = read("time:3/4 C5 3 | D5 1 E5 2/3 | F5 3")
    lower = read("time:3/4 C3 3 | D3 2 | F3 3")
    assert agreed_bars([upper[1], lower[1]], Fr(3), Fr(1)) == [3, 3, 3]
    assert agreed_bars([upper[1], read("C3 3 | D3 2")[1]], Fr(3)) is None


def test_units_and_barlines_know_their_tokens():
    units, bar_tokens, marks = [], [], []
    notes = tokens_to_notes("clef:G2 C4 E4 1 & r 1/2 G4 1/2 | A4 ~ 2 | A4 1".split(), strict=False, bars=marks,
                            units=units, bar_tokens=bar_tokens)
    assert units == [(0, 1), (0, 5), (Fr(1, 2), 7), (1, 10), (3, 14)]
    assert bar_tokens == [9, 13] and marks == [1, 3, 4]
    assert [(n.pitch, n.onset, n.duration) for n in notes][-1] == (69, 1, 3)


def _positions(units, xs, bar_x):
    return StaffPositions([(t, x) for (t, _), x in zip(units, xs)], bar_x)


def _read_at(seq, xs, bar_x):
    units, marks = [], []
    notes = tokens_to_notes(seq.split(), strict=False, bars=marks, units=units)
    return notes, marks, _positions(units, xs, bar_x)


def test_a_misread_bar_takes_the_onsets_printed_above_it():
    """The lower staff reads its first bar's first note an eighth short, so its bar is half a beat short
    and its later notes half a beat early. Each note takes the onset of the upper staff's note printed
    above it (within 0.9 spaces); a note with no partner keeps its own spacing where the partners
    around it agree with it, else is placed by x between them, on the beat grid."""
    space = 10.0
    upper = _read_at("time:3/4 C5 1 D5 1 E5 1 | F5 3", [100, 200, 300, 420], [400])
    lower = _read_at("time:3/4 C3 1/2 D3 1/2 E3 1/2 G3 1 | F3 3", [102, 195, 230, 305, 421], [401])
    out, length = anchor_bars([upper[0], lower[0]], [upper[1], lower[1]], Fr(3), Fr(1),
                              positions=[upper[2], lower[2]], space=space)
    assert length == 6
    # C3, D3 and G3 sit under C5, D5 and E5. E3 (x 230) has no partner; between D3 and G3 its own
    # spacing (a beat) is the partners' (a beat), so it keeps its half beat after D3 (by x: 4/3).
    assert [(n.pitch, n.onset) for n in out[1]] == [(48, 0), (50, 1), (52, Fr(3, 2)), (55, 2), (53, 3)]
    assert [(n.pitch, n.onset) for n in out[0]] == [(72, 0), (74, 1), (76, 2), (77, 3)]
    # Without positions the bar restarts at the barline only: the misread stays inside it.
    plain, _ = anchor_bars([upper[0], lower[0]], [upper[1], lower[1]], Fr(3), Fr(1))
    assert [n.onset for n in plain[1]] == [0, Fr(1, 2), 1, Fr(3, 2), 3]
    # A note further than 0.9 spaces from any partner: the stretch from C3 to the barline reads 2.5
    # beats where the page has 3, so each goes by x between the partners around it, on the grid.
    far = _read_at("time:3/4 C3 1/2 D3 1/2 E3 1/2 G3 1 | F3 3", [102, 250, 275, 350, 421], [401])
    out, _ = anchor_bars([upper[0], far[0]], [upper[1], far[1]], Fr(3), Fr(1), positions=[upper[2], far[2]],
                         space=space)
    assert [n.onset for n in out[1]] == [0, Fr(3, 2), Fr(7, 4), Fr(5, 2), 3]


def test_bars_read_right_by_every_staff_are_not_moved():
    upper = _read_at("time:3/4 C5 1 D5 2 | E5 3", [100, 200, 420], [400])
    lower = _read_at("time:3/4 C3 3/2 D3 3/2 | E3 3", [100, 260, 420], [400])   # under no upper note
    out, _ = anchor_bars([upper[0], lower[0]], [upper[1], lower[1]], Fr(3), Fr(1),
                         positions=[upper[2], lower[2]], space=10.0)
    assert [n.onset for n in out[1]] == [0, Fr(3, 2), 3]


def test_barlines_one_staff_imagined_or_missed_are_settled_by_the_page():
    """Bar counts that differ are reconciled by barline position: a barline only the upper staff read
    (nowhere near the lower staff's) merges its two bars when that leaves bars of the metre's length; a
    barline the upper staff missed is added where the lower staff prints it."""
    from pianograd.omr.system_timing import reconcile_barlines

    space = 10.0
    upper = _read_at("time:3/4 C5 1 D5 1 | E5 1 | F5 3 | G5 3", [100, 200, 300, 420, 520], [250, 400, 500])
    lower = _read_at("time:3/4 C3 3 | F3 3 | G3 3", [100, 420, 520], [401, 499])
    out, length = anchor_bars([upper[0], lower[0]], [upper[1], lower[1]], Fr(3), Fr(1),
                              positions=[upper[2], lower[2]], space=space)
    assert length == 9
    assert [(n.pitch, n.onset) for n in out[0]] == [(72, 0), (74, 1), (76, 2), (77, 3), (79, 6)]
    # The lower staff missed the second barline: its long bar splits before G3, printed right of it.
    lower = _read_at("time:3/4 C3 3 F3 3 | G3 3", [100, 420, 520], [499])
    upper = _read_at("time:3/4 C5 3 | F5 3 | G5 3", [100, 420, 520], [401, 500])
    fixed = reconcile_barlines([upper[1], lower[1]], [upper[2], lower[2]], space, Fr(3))
    assert fixed is not None and fixed[0] == [[3, 6, 9], [3, 6, 9]] and fixed[1][1].bar_x == [401, 499]
    # Without positions, the counts still differ and nothing is lined up.
    assert anchor_bars([upper[0], lower[0]], [upper[1], lower[1]], Fr(3), Fr(1)) is None


def test_whole_bar_rests_vote_for_the_metre():
    """A whole-bar rest looks the same in every metre, so the duration g reads for it (here 3 in 4/4) is a
    guess: staves that hold one rest of at least half a bar vote for the metre's bar, and two resting
    choir staves no longer outvote the piano staff that plays. A short single rest (a quarter) counts."""
    space = 10.0
    rest_a = _read_at("time:4/4 r 3 | r 3", [110, 310], [300])
    rest_b = _read_at("time:4/4 r 3 | r 3", [110, 310], [300])
    piano = _read_at("time:4/4 C4 4 | D4 1 E4 2", [100, 310, 400], [300])
    staves = [rest_a, rest_b, piano]
    out, length = anchor_bars([s[0] for s in staves], [s[1] for s in staves], Fr(4), Fr(1),
                              positions=[s[2] for s in staves], space=space)
    assert length == 8 and [(n.pitch, n.onset) for n in out[2]] == [(60, 0), (62, 4), (64, 5)]
    # Without positions the staves' readings vote as read.
    _, length = anchor_bars([s[0] for s in staves], [s[1] for s in staves], Fr(4), Fr(1))
    assert length == 6
    quarter = _read_at("time:3/4 C5 3 | r 1", [100, 310], [300])
    lower = _read_at("time:3/4 C3 3 | D3 1", [100, 310], [300])
    _, length = anchor_bars([quarter[0], lower[0]], [quarter[1], lower[1]], Fr(3), Fr(1),
                            positions=[quarter[2], lower[2]], space=space)
    assert length == 4


def test_a_pickup_is_told_from_a_whole_first_bar_by_its_width():
    """The staves read the first bar as a half beat and as one beat. Its width from its first note to
    its barline, at the system's px per beat, says a half-beat pickup; a first bar printed as wide as
    the others is a whole bar whatever the staves read."""
    space = 10.0
    upper = _read_at("time:2/4 r 1/2 | C5 2 | D5 2 | E5 2", [100, 160, 360, 560], [150, 350, 550])
    lower = _read_at("time:2/4 C3 1 | C3 2 | D3 2 | E3 2", [100, 160, 360, 560], [150, 350, 550])
    out, length = anchor_bars([upper[0], lower[0]], [upper[1], lower[1]], Fr(2), Fr(1), free_first=True,
                              positions=[upper[2], lower[2]], space=space)
    assert length == Fr(13, 2) and [n.onset for n in out[1]] == [0, Fr(1, 2), Fr(5, 2), Fr(9, 2)]
    wide = [_read_at(seq, [20, 160, 360, 560], [150, 350, 550])
            for seq in ("time:2/4 r 1/2 | C5 2 | D5 2 | E5 2", "time:2/4 C3 1 | C3 2 | D3 2 | E3 2")]
    _, length = anchor_bars([w[0] for w in wide], [w[1] for w in wide], Fr(2), Fr(1), free_first=True,
                            positions=[w[2] for w in wide], space=space)
    assert length == 8
