"""The Python token parsers under random input (hypothesis; issue 17, item 1: the C++ readers have
libFuzzer targets in tests/fuzz, these parsers live in Python). The OMR staff tokens: any sequence
of vocabulary tokens either parses into notes or raises TokenError when strict; when lenient (the
model-output path) it never raises. Every parsed note is a real note. Unknown tokens and ids are
TokenErrors."""
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from pianograd.omr.tokens import TokenError, decode_ids, encode_ids, tokens_to_notes, vocabulary

VOCAB = vocabulary()
staff = st.lists(st.sampled_from(VOCAB[1:]), max_size=60)


def check_notes(notes, bars):
    for n in notes:
        assert 0 <= n.pitch <= 127 and n.duration > 0 and n.onset >= 0
        assert isinstance(n.onset, Fraction) and isinstance(n.duration, Fraction)
    assert all(b >= 0 for b in bars) and bars == sorted(bars)


@settings(max_examples=400, deadline=None)
@given(staff)
def test_staff_tokens_parse_or_raise_token_error(tokens):
    try:
        bars = []
        check_notes(tokens_to_notes(tokens, strict=True, bars=bars), bars)
    except TokenError:
        pass
    bars = []
    check_notes(tokens_to_notes(tokens, strict=False, bars=bars), bars)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-3, len(VOCAB) + 3), max_size=30))
def test_token_ids_outside_the_vocabulary_are_token_errors(ids):
    try:
        toks = decode_ids(ids)
    except TokenError:
        assert any(not 0 < i < len(VOCAB) for i in ids)
        return
    assert encode_ids(toks) == ids


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=6), max_size=10))
def test_unknown_token_strings(tokens):
    try:
        encode_ids(tokens)
    except TokenError:
        assert any(t not in VOCAB[1:] for t in tokens)
    bars = []
    check_notes(tokens_to_notes(tokens, strict=False, bars=bars), bars)
