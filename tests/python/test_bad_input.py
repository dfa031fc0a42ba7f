"""The bad-input catalogue (issue 17, item 3): each row calls a public function with input a user can get
wrong and expects a typed exception (ValueError / TypeError / OSError and their subclasses) whose message
names the culprit. Never a crash, never pybind11's generic cast RuntimeError, never a silent result.

Rows are (id, call, exception type, text the message must contain); `call` gets the `files` fixture: a
folder of broken files built once.
"""
from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

import pianograd as pg

REGRESSIONS = Path(__file__).resolve().parents[1] / "fuzz" / "regressions"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    rng = np.random.default_rng(0)
    (d / "junk.wav").write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    (d / "junk.mid").write_bytes(rng.integers(0, 256, 400, dtype=np.uint8).tobytes())
    (d / "junk.safetensors").write_bytes(rng.integers(0, 256, 400, dtype=np.uint8).tobytes())
    (d / "empty.wav").write_bytes(b"")
    (d / "text.mid").write_bytes(b"MThd but then words\n" * 4)
    pg.write_audio(str(d / "silence0.wav"), np.zeros(0, np.float32), 16000)
    pg.write_audio(str(d / "ok.wav"), np.zeros(800, np.float32), 16000)
    good = bytearray((d / "ok.wav").read_bytes())
    struct.pack_into("<I", good, 24, 2_147_483_647)  # the fmt chunk's sample rate
    (d / "rate.wav").write_bytes(bytes(good))
    # A float WAV whose last sample is NaN (written through soundfile: write_audio refuses NaN).
    import soundfile as sf

    sf.write(str(d / "nan.wav"), np.array([0.0, 0.5, np.nan], np.float32), 16000, subtype="FLOAT")
    noise = np.clip(rng.normal(0, 0.2, 20000), -1, 1).astype(np.float32)
    pg.write_audio(str(d / "full.flac"), noise, 16000)
    b = (d / "full.flac").read_bytes()
    (d / "cut.flac").write_bytes(b[: len(b) * 6 // 10])
    # A safetensors header naming a tensor with bytes that are not UTF-8.
    head = b'{"w\xff\xfe":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    (d / "name.safetensors").write_bytes(struct.pack("<Q", len(head)) + head + b"\0\0\0\0")
    # Our own checkpoint with a [3, 4] tensor relabelled [4, 3], and with F32 relabelled I32: the same
    # byte sizes, caught only by the checksum saved with the file.
    pg.save_safetensors(str(d / "w.safetensors"), {"w": pg.from_numpy(np.ones((3, 4), np.float32))})
    w = (d / "w.safetensors").read_bytes()
    (d / "reshaped.safetensors").write_bytes(w.replace(b"[3,4]", b"[4,3]", 1))
    (d / "retyped.safetensors").write_bytes(w.replace(b'"F32"', b'"I32"', 1))
    # Score images: text, empty, cut PNG and JPEG, a PNG header (valid CRC) claiming 30000 x 30000 pixels.
    import zlib

    from PIL import Image

    (d / "text.png").write_text("a text file, not a picture\n")
    (d / "empty.png").write_bytes(b"")
    pg.write_png(str(d / "ok.png"), rng.random((24, 32, 3)).astype(np.float32))
    png = (d / "ok.png").read_bytes()
    (d / "cut.png").write_bytes(png[: len(png) // 2])
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(d / "ok.jpg", quality=90)
    jpg = (d / "ok.jpg").read_bytes()
    (d / "cut.jpg").write_bytes(jpg[: len(jpg) * 2 // 3])
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    (d / "huge.png").write_bytes(png[:8] + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:])
    return d


def perf(*notes, **kw):
    return pg.Performance(list(notes), **kw)


def tiny_lm():
    return pg.MotionLM(pg.MotionLMConfig(d_model=16, n_layers=1, n_heads=2, d_ff=16, context=8))


CASES = [
    # Performance: every field typed and named
    ("perf-velocity-float", lambda f: perf((60, 0.0, 0.5, 80.5)), ValueError, "velocity"),
    ("perf-key-str", lambda f: perf(("C4", 0.0, 0.5, 80)), ValueError, "key"),
    ("perf-onset-none", lambda f: perf((60, None, 0.5, 80)), ValueError, "onset"),
    ("perf-offset-str", lambda f: perf((60, 0.0, "late", 80)), ValueError, "offset"),
    ("perf-two-fields", lambda f: perf((60, 0.0)), ValueError, "note 0"),
    ("perf-second-note-bad", lambda f: perf((60, 0.0, 0.5, 80), (61, 0.1, 0.6, 1.5)), ValueError, "note 1"),
    ("perf-dict-no-offset", lambda f: perf({"key": 60, "onset": 0.0}), ValueError, "offset"),
    ("perf-key-off-keyboard", lambda f: perf((200, 0.0, 0.5, 80)), ValueError, "key"),
    ("perf-offset-before-onset", lambda f: perf((60, 1.0, 0.5, 80)), ValueError, "offset"),
    ("perf-nan-onset", lambda f: perf((60, math.nan, 0.5, 80)), ValueError, "onset"),
    ("perf-velocity-zero", lambda f: perf((60, 0.0, 0.5, 0)), ValueError, "velocity"),
    ("perf-velocity-128", lambda f: perf((60, 0.0, 0.5, 128)), ValueError, "velocity"),
    ("perf-velocity-bool", lambda f: perf((60, 0.0, 0.5, True)), ValueError, "velocity"),
    # audio reader: refused at the reader, naming the file
    ("audio-missing", lambda f: pg.read_audio(str(f / "none.wav")), FileNotFoundError, "none.wav"),
    ("audio-junk", lambda f: pg.read_audio(str(f / "junk.wav")), OSError, "junk.wav"),
    ("audio-empty-file", lambda f: pg.read_audio(str(f / "empty.wav")), OSError, "empty.wav"),
    ("audio-no-samples", lambda f: pg.read_audio(str(f / "silence0.wav")), OSError, "no samples"),
    ("audio-absurd-rate", lambda f: pg.read_audio(str(f / "rate.wav")), OSError, "invalid header"),
    ("audio-nan-sample", lambda f: pg.read_audio(str(f / "nan.wav")), OSError, "not finite"),
    ("audio-truncated-flac", lambda f: pg.read_audio(str(f / "cut.flac")), OSError, "cut.flac"),
    # audio writer
    ("write-nan", lambda f: pg.write_audio(str(f / "w.wav"), np.array([0, np.nan], np.float32), 16000), ValueError,
     "not finite"),
    ("write-rate-0", lambda f: pg.write_audio(str(f / "w.wav"), np.zeros(4, np.float32), 0), ValueError, "sample rate"),
    ("write-mp3", lambda f: pg.write_audio(str(f / "w.mp3"), np.zeros(4, np.float32), 16000), ValueError, ".mp3"),
    ("write-stereo-array", lambda f: pg.write_audio(str(f / "w.wav"), np.zeros((4, 2), np.float32), 16000), ValueError,
     "mono"),
    # MIDI
    ("midi-missing", lambda f: pg.read_midi(str(f / "none.mid")), FileNotFoundError, "none.mid"),
    ("midi-junk", lambda f: pg.read_midi(str(f / "junk.mid")), OSError, "junk.mid"),
    ("midi-text", lambda f: pg.read_midi(str(f / "text.mid")), OSError, "text.mid"),
    # a MIDI file whose delta times put a note-off 16 days in (found by fuzz_midi)
    ("midi-past-a-day", lambda f: pg.read_midi(str(REGRESSIONS / "midi" / "past_a_day")), OSError, "past the 86400 s"),
    # safetensors
    ("st-missing", lambda f: pg.load_safetensors(str(f / "none.safetensors")), FileNotFoundError, "none.safetensors"),
    ("st-junk", lambda f: pg.load_safetensors(str(f / "junk.safetensors")), OSError, "junk.safetensors"),
    ("st-non-utf8-name", lambda f: pg.load_safetensors(str(f / "name.safetensors")), OSError, "name.safetensors"),
    ("st-relabelled-shape", lambda f: pg.load_safetensors(str(f / "reshaped.safetensors")), OSError, "checksum"),
    ("st-relabelled-dtype", lambda f: pg.load_safetensors(str(f / "retyped.safetensors")), OSError, "checksum"),
    # rendering options: no silent accepts
    ("render-tail-negative", lambda f: pg.Piano().render(perf((60, 0.0, 0.1, 80)), tail_seconds=-1), ValueError,
     "tail_seconds"),
    ("render-tail-nan", lambda f: pg.Piano().render(perf((60, 0.0, 0.1, 80)), tail_seconds=math.nan), ValueError,
     "tail_seconds"),
    ("render-max-partials-negative", lambda f: pg.Piano().render(perf((60, 0.0, 0.1, 80)), max_partials=-5),
     ValueError, "max_partials"),
    ("render-rate-1e9", lambda f: pg.Piano().render(perf((60, 0.0, 0.1, 80)), sample_rate=1e9), ValueError,
     "sample_rate"),
    ("render-unknown-option", lambda f: pg.Piano().render(perf((60, 0.0, 0.1, 80)), tail=1), TypeError, "tail"),
    # tensors and ops
    ("matmul-shapes", lambda f: pg.matmul(pg.zeros([2, 3]), pg.zeros([4, 5])), ValueError, "matmul"),
    ("reshape-count", lambda f: pg.reshape(pg.zeros([2, 3]), [4, 2]), ValueError, "reshape"),
    ("add-broadcast", lambda f: pg.add(pg.zeros([2, 3]), pg.zeros([4])), ValueError, "broadcast"),
    ("dtype-mix", lambda f: pg.add(pg.zeros([2], pg.f32), pg.zeros([2], pg.f64)), TypeError, "f64"),
    ("slice-axis", lambda f: pg.slice(pg.zeros([2, 3]), 5, 0, 1), IndexError, "slice"),
    ("attention-shapes", lambda f: pg.scaled_dot_product_attention(pg.zeros([1, 1, 2, 4]), pg.zeros([1, 1, 3, 5]),
                                                             pg.zeros([1, 1, 3, 4]), True), ValueError, "scaled_dot"),
    # the motion LM
    ("tokens-out-of-vocab", lambda f: pg.MotionTokenizer().decode(np.array([1, 5000], np.int32)), ValueError, "5000"),
    ("lm-context", lambda f: tiny_lm().forward(np.ones((1, 9), np.int64)), ValueError, "context"),
    ("generate-seconds", lambda f: pg.generate(tiny_lm(), None, seconds=-1), ValueError, "seconds"),
    ("generate-top-p", lambda f: pg.generate_tokens(tiny_lm(), pg.MotionTokenizer(), [[]], top_p=0), ValueError,
     "top_p"),
    # score images (OMR)
    ("image-missing", lambda f: pg.read_image(str(f / "none.png")), FileNotFoundError, "none.png"),
    ("image-text", lambda f: pg.read_image(str(f / "text.png")), OSError, "not a PNG or JPEG"),
    ("image-empty", lambda f: pg.read_image(str(f / "empty.png")), OSError, "empty.png"),
    ("image-directory", lambda f: pg.read_image(str(f)), OSError, "directory"),
    ("image-cut-png", lambda f: pg.read_image(str(f / "cut.png")), OSError, "truncated PNG"),
    ("image-cut-jpeg", lambda f: pg.read_image(str(f / "cut.jpg")), OSError, "truncated JPEG"),
    ("image-huge-header", lambda f: pg.read_image(str(f / "huge.png")), ValueError, "30000 x 30000"),
    ("image-bytes-junk", lambda f: pg.decode_image(b"GIF89a....", name="page.gif"), OSError, "page.gif"),
    ("image-write-5-channels", lambda f: pg.write_png(str(f / "w.png"), np.zeros((2, 2, 5))), ValueError, "channels"),
    ("image-write-int32", lambda f: pg.write_png(str(f / "w.png"), np.zeros((2, 2), np.int32)), TypeError, "int32"),
    ("image-write-range", lambda f: pg.write_png(str(f / "w.png"), np.full((2, 2), 2.0)), ValueError, "[0, 1]"),
    # OMR metrics
    ("ser-lengths", lambda f: pg.symbol_error_rate([[1], [2]], [[1]]), ValueError, "2 predictions for 1"),
    ("omr-note-no-onset", lambda f: pg.omr_note_f1([{"pitch": 60, "duration_beats": 1.0}], []), ValueError,
     "onset_beats"),
    ("omr-note-array-columns", lambda f: pg.omr_note_f1(np.zeros((3, 2)), []), ValueError, "(N, 3) or (N, 4)"),
    # CTC loss and decoders
    ("ctc-rank", lambda f: pg.ctc_loss(_z(5, 4), _T, _IL, _TL), ValueError, "[B,T,C] (rank 3)"),
    ("ctc-batch", lambda f: pg.ctc_loss(_z(2, 5, 4), _T[:1], _IL, _TL), ValueError, "targets has batch size 1"),
    ("ctc-input-length", lambda f: pg.ctc_loss(_z(2, 5, 4), _T, np.array([9, 5]), _TL), ValueError,
     "input_lengths[0] = 9"),
    ("ctc-target-length", lambda f: pg.ctc_loss(_z(2, 5, 4), _T, _IL, np.array([3, 1])), ValueError,
     "target_lengths[0] = 3"),
    ("ctc-label-blank", lambda f: pg.ctc_loss(_z(2, 5, 4), np.array([[0, 2], [1, 0]]), _IL, _TL), ValueError,
     "equals the blank"),
    ("ctc-label-range", lambda f: pg.ctc_loss(_z(2, 5, 4), np.array([[7, 2], [1, 0]]), _IL, _TL), IndexError,
     "targets[0, 0] = 7"),
    ("ctc-nan", lambda f: pg.ctc_loss(pg.tensor(np.full((2, 5, 4), np.nan, np.float32)), _T, _IL, _TL),
     ValueError, "finite"),
    ("ctc-float-targets", lambda f: pg.ctc_loss(_z(2, 5, 4), _z(2, 2), _IL, _TL), TypeError, "int32 or int64"),
    ("ctc-reduction", lambda f: pg.ctc_loss(_z(2, 5, 4), _T, _IL, _TL, reduction="avg"), ValueError, "'avg'"),
    ("ctc-greedy-rank", lambda f: pg.ctc_greedy_decode(_z(5, 4), _IL), ValueError, "ctc_greedy_decode"),
    ("ctc-beam-width", lambda f: pg.ctc_beam_decode(_z(5, 4), beam=0), ValueError, "beam must be >= 1"),
    ("ctc-beam-length", lambda f: pg.ctc_beam_decode(_z(5, 4), length=9), ValueError, "exceeds the 5 frames"),
    # reading score images (pg.omr) and its tokens
    ("omr-nan-array", lambda f: pg.omr(np.full((40, 40), np.nan, np.float32)), ValueError, "finite"),
    ("omr-4d-array", lambda f: pg.omr(np.ones((2, 3, 4, 5), np.float32)), ValueError, "[H,W] or [H,W,C]"),
    ("omr-strings", lambda f: pg.omr(np.array([["a"]])), ValueError, "numbers"),
    ("omr-missing", lambda f: pg.omr(str(f / "none.png")), FileNotFoundError, "none.png"),
    ("omr-text-file", lambda f: pg.omr(str(f / "text.png")), OSError, "text.png"),
    ("omr-tempo", lambda f: _omr_result().to_performance(0), ValueError, "tempo must be > 0"),
    ("omr-token-unknown", lambda f: _tokens().encode_ids(["C4", "H9"]), ValueError, "'H9'"),
    ("omr-token-id", lambda f: _tokens().decode_ids([10**6]), ValueError, "token id 1000000"),
    ("omr-tokens-no-pitch", lambda f: _tokens().tokens_to_notes(["clef:G2", "1"]), ValueError,
     "follows no pitch"),
    # sustain pedal rolls and the pedal head (issue 15, item 3)
    ("pedal-rolls-2d", lambda f: pg.rolls_to_pedal(_z(4, 88), 50.0), ValueError, "frame roll must be"),
    ("pedal-rolls-nan", lambda f: pg.rolls_to_pedal(pg.tensor(np.array([0, np.nan], np.float32)), 50.0),
     ValueError, "non-finite value at frame 1"),
    ("pedal-onset-length", lambda f: pg.rolls_to_pedal(_z(4), 50.0, onset=_z(3)), ValueError, "onset roll"),
    ("pedal-threshold-0", lambda f: pg.rolls_to_pedal(_z(4), 50.0, frame_threshold=0.0), ValueError, "thresholds"),
    ("pedal-rate-0", lambda f: pg.performance_to_pedal_rolls(perf(), 0.0), ValueError, "frame_rate"),
    ("pedal-points-unsorted", lambda f: pg.pedal_segments(perf(pedal=[(0.5, 1.0), (0.2, 0.0)])), ValueError,
     "pedal"),
    ("pedal-kernel-even", lambda f: pg.TranscriberConfig(pedal_channels=4, pedal_kernel=4), ValueError,
     "pedal_kernel"),
    ("pedal-decode-short", lambda f: pg.rolls_to_performance(_z(5, 88), _z(5, 88), 50.0, pedal_frame=_z(4)),
     ValueError, "pedal frame roll must be [5]"),
]


def _z(*shape):
    return pg.tensor(np.zeros(shape, np.float32))


_T, _IL, _TL = np.array([[1, 2], [1, 0]]), np.array([5, 5]), np.array([2, 1])


def _omr_result():
    from pianograd.omr.recognize import OmrResult

    return OmrResult([], [], [], [])


def _tokens():
    from pianograd.omr import tokens

    return tokens


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_a_typed_named_error(case, files):
    _, call, exc, text = case
    with pytest.raises(exc) as info:
        call(files)
    assert text in str(info.value), f"{type(info.value).__name__}: {info.value}"


def test_validate_false_keeps_what_it_is_given():
    """validate=False is the documented way to hold notes the piano cannot play (a key off the keyboard)."""
    p = pg.Performance([(200, 1.0, 0.5, 80)], validate=False)
    assert p.notes[0].key == 200
    with pytest.raises(ValueError, match="key"):
        p.validate()
    holder = type("H", (), {"notes": [(200, 0.0, 0.5, 80)], "pedal": []})()
    assert pg.Performance(holder, validate=False).notes[0].key == 200


def test_catalogue_size():
    assert len(CASES) >= 88  # issue 17, item 3 (80), and the pedal rows of issue 15
