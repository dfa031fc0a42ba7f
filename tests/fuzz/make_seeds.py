#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<name>/): small valid inputs of every
kind each reader accepts, from which libFuzzer mutates. The committed seeds came from this script;
rerun it (PYTHONPATH=build/python .venv/bin/python tests/fuzz/make_seeds.py) after a format is added.
"""
from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np

import pianograd as pg

ROOT = Path(__file__).resolve().parent / "corpus"


def put(name: str, file: str, data: bytes) -> None:
    d = ROOT / name
    d.mkdir(parents=True, exist_ok=True)
    (d / file).write_bytes(data)


def performance() -> "pg.Performance":
    notes = [(60, 0.0, 0.5, 80), (64, 0.25, 0.75, 60), (67, 0.5, 1.0, 100), (60, 0.6, 0.7, 30)]
    return pg.Performance(notes, pedal=[(0.1, 1.0), (0.9, 0.0)])


def main() -> None:
    tmp = ROOT.parent / "_tmp"
    tmp.mkdir(exist_ok=True)
    perf = performance()
    # MIDI: our writer's format 1 file, and a hand-built format 0 file with running status and a tempo.
    put("midi", "ours.mid", bytes(pg.encode_midi(perf)))
    track = bytes([0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20, 0x00, 0x90, 60, 64, 0x60, 62, 70, 0x60, 60, 0,
                   0x00, 62, 0, 0x00, 0xB0, 64, 127, 0x30, 64, 0, 0x00, 0xFF, 0x2F, 0x00])
    put("midi", "format0.mid", b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96) + b"MTrk" + struct.pack(">I", len(track)) + track)
    # Audio: WAV (16-bit, float), FLAC, and a stereo WAV, a few hundred samples each.
    t = np.arange(400) / 8000.0
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    import soundfile as sf
    for fmt, sub, file in (("WAV", "PCM_16", "pcm16.wav"), ("WAV", "FLOAT", "float.wav"), ("FLAC", "PCM_16", "tone.flac"),
                           ("AIFF", "PCM_24", "tone.aiff")):
        buf = io.BytesIO()
        sf.write(buf, tone, 8000, format=fmt, subtype=sub)
        put("audio", file, buf.getvalue())
    buf = io.BytesIO()
    sf.write(buf, np.stack([tone, -tone], 1), 8000, format="WAV", subtype="PCM_16")
    put("audio", "stereo.wav", buf.getvalue())
    # Safetensors: every dtype we read, a scalar-like shape, metadata.
    p = tmp / "x.safetensors"
    pg.save_safetensors(str(p), {"w": pg.from_numpy(np.arange(6, dtype=np.float32).reshape(2, 3)),
                                 "b": pg.from_numpy(np.array([1.5], dtype=np.float64)),
                                 "i": pg.from_numpy(np.array([[7, 8]], dtype=np.int32)),
                                 "l": pg.from_numpy(np.array([9], dtype=np.int64))}, {"format": "seed"})
    put("safetensors", "mixed.safetensors", p.read_bytes())
    # Images: PNG of each colour type and depth (palette with transparency, 16-bit, 1-bit), JPEG.
    from PIL import Image
    rng = np.random.default_rng(0)
    grey = (rng.random((12, 10)) * 255).astype(np.uint8)
    shots = {
        "grey8.png": (Image.fromarray(grey), {}),
        "grey16.png": (Image.fromarray(grey.astype(np.uint16) * 257), {}),
        "rgb.png": (Image.fromarray(np.stack([grey] * 3, -1)), {}),
        "rgba.png": (Image.fromarray(np.stack([grey] * 4, -1)), {}),
        "la.png": (Image.fromarray(np.stack([grey] * 2, -1), mode="LA"), {}),
        "palette.png": (Image.fromarray(grey).convert("P"), {"transparency": 0}),
        "bilevel.png": (Image.fromarray(grey > 128), {}),
        "grey.jpg": (Image.fromarray(grey), {"quality": 70}),
        "rgb.jpg": (Image.fromarray(np.stack([grey, grey[::-1], grey], -1)), {"quality": 70}),
    }
    for file, (im, kw) in shots.items():
        buf = io.BytesIO()
        im.save(buf, format="PNG" if file.endswith(".png") else "JPEG", **kw)
        put("image", file, buf.getvalue())
    # Configs: the selector byte (0 LM, 1 GRU, 2 transcriber), then the JSON text.
    for sel, cfg in ((0, pg.MotionLMConfig(state_features=True)), (1, pg.MotionGRUConfig()),
                     (2, pg.TranscriberConfig())):
        put("config_json", f"{type(cfg).__name__}.json", bytes([sel]) + cfg.to_json().encode())
    put("config_json", "empty_object.json", bytes([0]) + b"{}")
    # Tokens: a performance's encoding as little-endian 16-bit ids.
    tok = pg.MotionTokenizer()
    ids = tok.encode(perf, bos=True, eos=True)
    put("motion_tokens", "performance.bin", struct.pack(f"<{len(ids)}H", *ids))
    p.unlink()
    tmp.rmdir()
    print("seeds:", {d.name: len(list(d.iterdir())) for d in sorted(ROOT.iterdir())})


if __name__ == "__main__":
    main()
