"""pg.read_image / decode_image / write_png (models/image_io.h) against Pillow's encoders and decoders.

PNG files come from Pillow (modes 1, L, LA, P with and without transparency, RGB, RGBA, I;16) and from a
small PNG writer below (Adam7 interlacing, which Pillow cannot write; grey at 2 and 4 bits; a grey colour
key in tRNS), and are compared with what Pillow decodes from the same bytes. JPEGs (grey, RGB, progressive)
are compared with Pillow's decode within a small tolerance (both use libjpeg-turbo, possibly different
builds). Bad input: typed errors naming the file, and a hypothesis fuzz over mutated and cut files.
"""
from __future__ import annotations

import io
import struct
import threading
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pianograd as pg

Image = pytest.importorskip("PIL.Image")

RNG = np.random.default_rng(7)


def pil_bytes(im, fmt="PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def pil_decode(data: bytes, mode: str | None = None) -> np.ndarray:
    im = Image.open(io.BytesIO(data))
    if mode:
        im = im.convert(mode)
    a = np.asarray(im)
    scale = 65535.0 if a.dtype == np.uint16 or im.mode.startswith("I") else 255.0
    a = a.astype(np.float64) / scale
    return a[..., None] if a.ndim == 2 else a


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def make_png(samples: np.ndarray, bit_depth: int, color_type: int, interlace=False, extra=b"") -> bytes:
    """A PNG of samples [H, W, C] (integers < 2**bit_depth), filter 0, optionally Adam7-interlaced."""
    h, w, _ = samples.shape

    def rows(img):
        out = b""
        for row in img:
            flat = row.reshape(-1)
            if bit_depth == 16:
                raw = flat.astype(">u2").tobytes()
            elif bit_depth == 8:
                raw = flat.astype(np.uint8).tobytes()
            else:  # pack several samples per byte, most significant first
                per = 8 // bit_depth
                padded = np.zeros(-(-len(flat) // per) * per, np.uint8)
                padded[: len(flat)] = flat
                packed = np.zeros(len(padded) // per, np.uint8)
                for k in range(per):
                    packed |= padded[k::per] << (8 - bit_depth * (k + 1))
                raw = packed.tobytes()
            out += b"\0" + raw
        return out

    if interlace:
        data = b"".join(rows(samples[y0::dy, x0::dx]) for x0, y0, dx, dy in ADAM7 if y0 < h and x0 < w)
    else:
        data = rows(samples)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b"")


def check(data: bytes, want: np.ndarray, atol=1e-6):
    got = pg.decode_image(data)
    assert got.dtype == np.float32 and got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, atol=atol)
    return got


# ---------------------------------------------------------------- PNG from Pillow


def pillow_image(mode):
    h, w = 11, 17
    if mode == "1":
        return Image.fromarray(RNG.random((h, w)) > 0.5)
    if mode == "I;16":
        return Image.fromarray(RNG.integers(0, 65536, (h, w), dtype=np.uint16))
    if mode.startswith("P"):
        im = Image.fromarray(RNG.integers(0, 6, (h, w), dtype=np.uint8), "P")
        im.putpalette(RNG.integers(0, 256, 6 * 3, dtype=np.uint8).tobytes())
        return im
    shape = {"L": (h, w), "LA": (h, w, 2), "RGB": (h, w, 3), "RGBA": (h, w, 4)}[mode]
    return Image.fromarray(RNG.integers(0, 256, shape, dtype=np.uint8), mode)


@pytest.mark.parametrize("mode,channels", [("1", 1), ("L", 1), ("LA", 2), ("RGB", 3), ("RGBA", 4), ("I;16", 1),
                                           ("P", 3)])
def test_png_modes_written_by_pillow(mode, channels):
    data = pil_bytes(pillow_image(mode))
    want = pil_decode(data, "RGB" if mode == "P" else ("L" if mode == "1" else None))
    assert want.shape[-1] == channels
    check(data, want)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_palette_with_transparency(bits):
    im = pillow_image("P")
    alphas = bytes([0, 64, 255, 128, 255, 10])
    data = pil_bytes(im, transparency=alphas, bits=bits)
    assert b"tRNS" in data
    check(data, pil_decode(data, "RGBA"))


def test_interlaced_png_all_colour_types():
    for color_type, c, depth in [(0, 1, 8), (2, 3, 8), (4, 2, 8), (6, 4, 16), (0, 1, 2)]:
        for h, w in [(1, 1), (3, 5), (9, 13), (16, 16)]:
            s = RNG.integers(0, 2**depth, (h, w, c))
            data = make_png(s, depth, color_type, interlace=True)
            want = s / (2**depth - 1)
            check(data, want)
            plain = pil_decode(data, None) if depth != 2 else pil_decode(data, "L")
            # Pillow agrees on the crafted file (it keeps only the high byte of 16-bit colour)
            np.testing.assert_allclose(plain, want, atol=1 / 255 if depth == 16 else 1e-6)


@pytest.mark.parametrize("depth", [1, 2, 4, 16])
def test_grey_bit_depths(depth):
    s = RNG.integers(0, 2**depth, (5, 11, 1))
    data = make_png(s, depth, 0)
    got = check(data, s / (2**depth - 1))
    np.testing.assert_allclose(got, pil_decode(data, "L" if depth < 8 else None), atol=1e-6)


def test_grey_colour_key_becomes_alpha():
    s = RNG.integers(0, 256, (4, 6, 1))
    key = int(s[1, 2, 0])
    data = make_png(s, 8, 0, extra=chunk(b"tRNS", struct.pack(">H", key)))
    want = np.concatenate([s / 255.0, (s != key).astype(np.float64)], axis=2)
    check(data, want)


def test_grey_flag_composites_over_white():
    rgba = RNG.integers(0, 256, (6, 7, 4), dtype=np.uint8)
    data = pil_bytes(Image.fromarray(rgba, "RGBA"))
    f = rgba.astype(np.float64) / 255
    luma = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
    want = luma * f[..., 3] + (1 - f[..., 3])
    got = pg.decode_image(data, grey=True)
    assert got.shape == (6, 7)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_one_pixel_images(tmp_path):
    for mode in ("L", "RGB", "RGBA"):
        im = Image.new(mode, (1, 1), 200 if mode == "L" else (10, 20, 30, 40)[: len(mode)])
        (tmp_path / "one.png").write_bytes(pil_bytes(im))
        assert pg.read_image(tmp_path / "one.png").shape == (1, 1, len(mode))
        (tmp_path / "one.jpg").write_bytes(pil_bytes(im.convert("L" if mode == "L" else "RGB"), "JPEG"))
        assert pg.read_image(tmp_path / "one.jpg", grey=True).shape == (1, 1)


def test_read_path_bytes_bytearray_memoryview_agree(tmp_path):
    data = pil_bytes(pillow_image("RGB"))
    p = tmp_path / "x.dat"  # no image extension: the format is sniffed
    p.write_bytes(data)
    ref = pg.read_image(p)
    for view in (data, bytearray(data), memoryview(data), np.frombuffer(data, np.uint8)):
        np.testing.assert_array_equal(pg.decode_image(view), ref)
    np.testing.assert_array_equal(pg.read_image(str(p), grey=True), pg.decode_image(data, grey=True))


# ---------------------------------------------------------------- JPEG


@pytest.mark.parametrize("mode", ["L", "RGB"])
@pytest.mark.parametrize("kw", [{}, {"progressive": True}, {"subsampling": 0, "quality": 95}])
def test_jpeg_matches_pillow(mode, kw):
    y, x = np.mgrid[0:48, 0:64]
    base = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1) + RNG.integers(0, 20, (48, 64, 3))
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB").convert(mode)
    data = pil_bytes(im, "JPEG", **kw)
    want = pil_decode(data)
    got = pg.decode_image(data)
    assert got.shape == want.shape == (48, 64, 1 if mode == "L" else 3)
    np.testing.assert_allclose(got, want, atol=3 / 255)
    assert np.abs(got - want).mean() < 0.5 / 255


def test_cmyk_jpeg_is_a_clear_error():
    data = pil_bytes(Image.new("CMYK", (8, 8), (10, 20, 30, 40)), "JPEG")
    with pytest.raises(OSError, match="CMYK"):
        pg.decode_image(data, name="scan.jpg")


# ---------------------------------------------------------------- writing


@pytest.mark.parametrize("channels", [None, 1, 2, 3, 4])
@pytest.mark.parametrize("bit_depth", [8, 16])
def test_write_png_round_trip_and_pillow_reads_it(tmp_path, channels, bit_depth):
    shape = (9, 14) if channels is None else (9, 14, channels)
    levels = 2**bit_depth - 1
    a = RNG.integers(0, levels + 1, shape) / levels
    p = tmp_path / "w.png"
    pg.write_png(p, a.astype(np.float32), bit_depth=bit_depth)
    got = pg.read_image(p)
    want = a if channels else a[..., None]
    np.testing.assert_allclose(got, want, atol=1e-6)
    mode = Image.open(p).mode
    if bit_depth == 8:
        assert mode == {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels or 1]
    elif (channels or 1) == 1:  # Pillow reduces 16-bit colour to 8 bits, but keeps 16-bit grey
        assert mode == "I;16"
    if bit_depth == 8 or (channels or 1) == 1:
        np.testing.assert_allclose(pil_decode(p.read_bytes()), want, atol=1e-6)


def test_write_png_integer_arrays(tmp_path):
    u8 = RNG.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    pg.write_png(tmp_path / "a.png", u8)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")), u8)
    u16 = RNG.integers(0, 65536, (4, 5), dtype=np.uint16)
    pg.write_png(tmp_path / "b.png", u16, bit_depth=16)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "b.png")), u16)
    pg.write_png(tmp_path / "c.png", u16, bit_depth=8)  # rescaled to 8 bits
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "c.png")), np.round(u16 / 257).astype(np.uint8))


@pytest.mark.parametrize("array,bit_depth,exc,text", [
    (np.zeros((2, 2, 2, 1)), 8, ValueError, "ndim 4"),
    (np.zeros(5), 8, ValueError, "ndim 1"),
    (np.zeros((2, 2, 5)), 8, ValueError, "1..4 channels"),
    (np.zeros((2, 2), np.int32), 8, TypeError, "int32"),
    (np.zeros((2, 2), bool), 8, TypeError, "bool"),
    (np.full((2, 2), 1.5), 8, ValueError, "outside [0, 1]"),
    (np.full((2, 2), np.nan), 8, ValueError, "sample 0"),
    (np.zeros((0, 3)), 8, ValueError, "empty"),
    (np.zeros((2, 2)), 4, ValueError, "bit_depth"),
])
def test_write_png_rejects(tmp_path, array, bit_depth, exc, text):
    with pytest.raises(exc) as info:
        pg.write_png(tmp_path / "bad.png", array, bit_depth=bit_depth)
    assert text in str(info.value)
    assert not (tmp_path / "bad.png").exists()


# ---------------------------------------------------------------- bad input


def big_ihdr_png(w=30000, h=30000) -> bytes:
    """A well-formed PNG header (valid CRC) claiming w x h pixels, followed by a tiny IDAT."""
    return make_png(np.zeros((1, 1, 1), np.uint8), 8, 0)[:8] + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b"")


def test_bad_files(tmp_path):
    (tmp_path / "notes.png").write_text("this is a text file, not a picture\n")
    with pytest.raises(OSError, match="notes.png.*not a PNG or JPEG"):
        pg.read_image(tmp_path / "notes.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(OSError, match="empty.png.*empty"):
        pg.read_image(tmp_path / "empty.png")
    with pytest.raises(OSError, match="directory"):
        pg.read_image(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        pg.read_image(tmp_path / "missing.png")
    (tmp_path / "big.png").write_bytes(big_ihdr_png())
    with pytest.raises(ValueError, match="big.png.*30000 x 30000.*too large"):
        pg.read_image(tmp_path / "big.png")
    with pytest.raises(ValueError, match="too large"):
        pg.decode_image(big_ihdr_png(16385, 1))
    with pytest.raises(OSError, match="corrupt PNG"):
        pg.decode_image(big_ihdr_png(0, 5))
    good = bytearray(pil_bytes(pillow_image("RGB")))
    good[30] ^= 0x55  # IHDR's CRC
    with pytest.raises(OSError, match="corrupt PNG.*CRC"):
        pg.decode_image(bytes(good))
    with pytest.raises(TypeError):
        pg.decode_image("not bytes")
    with pytest.raises(TypeError, match="contiguous bytes"):
        pg.decode_image(np.zeros(4, np.float32))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files(tmp_path, fmt):
    data = pil_bytes(pillow_image("RGB").resize((64, 48)), fmt)
    assert pg.decode_image(data).shape == (48, 64, 3)
    for cut in [1, 2, 5, 8, 20, 33, 60, 200, len(data) // 2, len(data) - 20, len(data) - 2, len(data) - 1]:
        p = tmp_path / f"cut{cut}.{fmt.lower()}"
        p.write_bytes(data[:cut])
        with pytest.raises(OSError, match="truncated") as info:
            pg.read_image(p)
        assert p.name in str(info.value)


def test_decoding_in_threads_agrees():
    datas = [pil_bytes(pillow_image("RGB").resize((200, 150)), f) for f in ("PNG", "JPEG")] * 4
    want = [pg.decode_image(d) for d in datas]
    got = [None] * len(datas)

    def work(i):
        got[i] = pg.decode_image(datas[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(datas))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


# ---------------------------------------------------------------- fuzz: a result or a typed error, never a crash

SEEDS = {
    "png": pil_bytes(pillow_image("RGBA").resize((12, 9))),
    "png-interlaced-16": make_png(RNG.integers(0, 65536, (7, 5, 3)), 16, 2, interlace=True),
    "png-palette": pil_bytes(pillow_image("P"), transparency=bytes([0, 255, 7]), bits=4),
    "jpeg": pil_bytes(pillow_image("RGB").resize((24, 16)), "JPEG"),
    "jpeg-progressive": pil_bytes(pillow_image("L").resize((24, 16)), "JPEG", progressive=True),
}


@settings(max_examples=150)
@given(st.sampled_from(sorted(SEEDS)), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
       st.one_of(st.none(), st.integers(0, 10**6)))
def test_mutated_images_never_crash(seed, flips, cut):
    data = bytearray(SEEDS[seed])
    for pos, val in flips:
        data[pos % len(data)] = val
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    try:
        img = pg.decode_image(bytes(data))
    except (OSError, ValueError):
        return
    assert img.dtype == np.float32 and img.ndim == 3 and 1 <= img.shape[2] <= 4
    assert np.all((img >= 0) & (img <= 1))
