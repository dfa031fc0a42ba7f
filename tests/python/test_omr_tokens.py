"""The OMR token encoding: hand-made sequences decode to the notes a musician reads, and every staff
of the corpus works the OMR data uses round-trips losslessly (tokens -> notes == notes read from the
score by absolute offsets)."""
from fractions import Fraction as F

import pytest

from pianograd.omr.tokens import (TokenError, decode_ids, encode_ids, pitch_midi, tokens_to_notes,
                                  vocabulary)


def notes(seq):
    return [(n.pitch, n.onset, n.duration) for n in tokens_to_notes(seq.split())]


def test_vocabulary_is_stable_and_blank_first():
    v = vocabulary()
    assert v[0] == "<blank>" and len(set(v)) == len(v)
    assert encode_ids(["C4", "1", "|"]) == [v.index("C4"), v.index("1"), v.index("|")]
    assert decode_ids(encode_ids(["F#5", "3/2"])) == ["F#5", "3/2"]
    with pytest.raises(TokenError, match="not in the OMR vocabulary"):
        encode_ids(["H4"])
    with pytest.raises(TokenError, match="outside"):
        decode_ids([0])


def test_pitch_spelling():
    assert pitch_midi("C4") == 60 and pitch_midi("B#3") == 60 and pitch_midi("Dbb4") == 60
    assert pitch_midi("A0") == 21 and pitch_midi("C8") == 108 and pitch_midi("r") is None


def test_melody_chord_rest_bar():
    assert notes("clef:G2 key:0 time:4/4 C4 1 E4 G4 1 r 1 D4 1 | C5 4") == [
        (60, 0, 1), (64, 1, 1), (67, 1, 1), (62, 3, 1), (72, 4, 4)]


def test_join_starts_voices_together_and_time_advances_by_the_shortest():
    # voice 1: half note C5; voice 2: two quarters E4 F4
    assert notes("C5 2 & E4 1 F4 1 G4 2") == [(64, 0, 1), (72, 0, 2), (65, 1, 1), (67, 2, 2)]


def test_explicit_advance_for_silent_space():
    # a whole note held while another voice waits (hidden rest) one beat before entering
    assert notes("C4 4 +1 E4 3") == [(60, 0, 4), (64, 1, 3)]
    assert notes("+2 G4 2") == [(67, 2, 2)]


def test_ties_merge_and_pickup_bars_keep_their_length():
    assert notes("G4 1 | G4 ~ 2 G4 1 | G4 3") == [(67, 0, 1), (67, 1, 3), (67, 4, 3)]
    assert notes("C4 ~ E4 1 C4 E4 1") == [(60, 0, 2), (64, 0, 1), (64, 1, 1)]
    assert notes("C4 1/3 D4 1/3 E4 1/3") == [(60, 0, F(1, 3)), (62, F(1, 3), F(1, 3)), (64, F(2, 3), F(1, 3))]


def test_malformed_sequences_raise_or_are_skipped():
    with pytest.raises(TokenError, match="follows no pitch"):
        tokens_to_notes(["1"])
    with pytest.raises(TokenError, match="interrupts"):
        tokens_to_notes(["C4", "|", "1"])
    assert [(n.pitch, n.onset) for n in tokens_to_notes(["1", "C4", "|", "D4", "1"], strict=False)] == [(62, 0)]


def _data_staves():
    from pianograd.omr.data import OmrDataConfig, split_pieces

    cfg = OmrDataConfig()
    return [p for split in ("train", "valid", "test") for p in split_pieces(cfg, split)]


@pytest.mark.parametrize("piece", _data_staves())
def test_every_staff_of_the_data_round_trips(piece):
    """Whole staves and the systems the data cuts them into: the decoded tokens are the score's notes."""
    import random

    from pianograd.data.engrave import piece_staves, staff_segments
    from pianograd.omr.encode import segment_tokens, staff_notes

    rng = random.Random(0)
    n_segments = 0
    for staff in piece_staves(piece):
        if all(b.tokens is not None for b in staff.bars):
            whole = segment_tokens(staff.bars, 0, len(staff.bars) - 1)
            assert [n.as_tuple() for n in tokens_to_notes(whole)] == \
                [n.as_tuple() for n in staff_notes(staff.part)]
        for seg in staff_segments(staff, rng):
            n_segments += 1
            got = [(n.pitch, float(n.onset), float(n.duration)) for n in tokens_to_notes(seg.tokens)]
            assert got == [tuple(x) for x in seg.notes], (piece, staff.index, seg.first)
    assert n_segments > 0, f"{piece}: no system of it can be encoded"


def _split_bar_score(hidden: bool):
    """Two parts in 3/4: a full bar, a bar split at a repeat (two beats printed, one beat unprinted
    padding), its second half (one beat printed, two unprinted), a full bar."""
    from music21 import bar, meter, note, stream

    parts = []
    for pitch in ("C5", "C3"):
        p = stream.Part()
        for k, (printed, pad) in enumerate(((3, 0), (2, 1), (1, 2), (3, 0))):
            m = stream.Measure(number=k + 1)
            if k == 0:
                m.insert(0, meter.TimeSignature("3/4"))
            m.append(note.Note(pitch, quarterLength=printed))
            if pad:
                r = note.Rest(quarterLength=pad)
                r.style.hideObjectOnPrint = hidden
                m.append(r)
            if k == 1:
                m.rightBarline = bar.Repeat(direction="end")
            p.append(m)
        parts.append(p)
    return parts


def test_printed_bar_starts_drop_unprinted_padding_of_split_bars():
    """A bar split at a repeat and padded with unprinted rests lasts what is printed (2 + 1 beats, one
    bar as played), so the page's later notes are not pushed back by silence no image shows; printed
    rests keep their time."""
    from pianograd.omr.encode import printed_bar_starts, staff_notes

    parts = _split_bar_score(hidden=True)
    starts = printed_bar_starts(parts, 4)
    assert starts == [0, 3, 5, 6]
    assert [n.onset for n in staff_notes(parts[0], 0, 3, starts)] == [0, 3, 5, 6]
    assert [n.onset for n in staff_notes(parts[0], 0, 3)] == [0, 3, 6, 9]  # the encoding's own offsets
    assert printed_bar_starts(_split_bar_score(hidden=False), 4) == [0, 3, 6, 9]
    assert printed_bar_starts(parts, 2) == [0, 3]
    with pytest.raises(ValueError, match="bar starts"):
        staff_notes(parts[0], 0, 3, starts[:2])


def test_page_reference_follows_the_printed_bars():
    """render_page's notes: on a score without padding, the printed timeline is the encoding's."""
    from music21 import converter, stream

    from pianograd.data.score import corpus_file
    from pianograd.omr.encode import printed_bar_starts

    score = converter.parse(str(corpus_file("bach/bwv269.mxl")))
    ms = list(score.parts[0].getElementsByClass(stream.Measure))[:8]
    assert printed_bar_starts(score.parts, 8) == [F(m.offset).limit_denominator(96) - F(ms[0].offset) for m in ms]


def test_a_pickup_padded_in_front_starts_at_its_first_printed_note():
    """Some encodings fill a pickup bar with an unprinted rest in front of the notes; the printed timeline
    starts at the first printed note, and the next bar starts where the pickup's printed notes end."""
    from fractions import Fraction as Fr

    from music21 import meter, note, stream

    from pianograd.omr.encode import printed_bar_starts, staff_notes

    part = stream.Part()
    pickup = stream.Measure(number=0)
    pickup.append(meter.TimeSignature("2/4"))
    hidden = note.Rest(quarterLength=0.25)
    hidden.style.hideObjectOnPrint = True
    pickup.append([hidden, note.Note("C#5", quarterLength=0.5)])
    bar = stream.Measure(number=1)
    bar.append([note.Note("D5", quarterLength=1), note.Note("E5", quarterLength=1)])
    part.append([pickup, bar])
    starts = printed_bar_starts([part], 2)
    assert starts == [Fr(-1, 4), Fr(1, 2)]
    assert [(n.pitch, n.onset) for n in staff_notes(part, 0, 1, starts)] == [(73, 0), (74, Fr(1, 2)), (76, Fr(3, 2))]
