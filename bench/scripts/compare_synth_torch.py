#!/usr/bin/env python3
"""Our event renderer vs the same piano written the way a researcher would in PyTorch, side by side.

The PyTorch version is the closed-form additive model of DESIGN.md §4, vectorised over modes x samples:
per mode, amp * exp(-sigma t) * sin(2 pi f t) from stretched partials p f0 sqrt(1 + B p^2) over 1-3
detuned strings, sigma = b1 + b3 w^2, strike comb sin(pi p beta), a velocity loudness/brightness
curve, a soft damper after release (the integral of a sigmoid gate), then body and room impulse
responses by FFT convolution. Gradients flow to velocities, onsets, offsets and the per-key physical
parameters, as in ours. Same case as bench/bench_synth.cpp case 1: a 10-note chord, 2 s, 16 kHz.

Ours is timed by the C++ benchmark binary (BM_render_events_*/1/16000, one thread).

    .venv/bin/python bench/scripts/compare_synth_torch.py [--build build] [--threads 1]
"""
import argparse
import json
import math
import subprocess
import sys
import time

KEYS = [36, 43, 48, 52, 55, 60, 64, 67, 72, 76]


def ours(build: str) -> dict:
    exe = f"{build}/bench/pianograd_bench"
    out = subprocess.run([exe, "--benchmark_filter=BM_render_events_(forward|fwd_bwd)/1/16000/",
                          "--benchmark_format=json"],
                         check=True, capture_output=True, text=True).stdout
    res = {}
    for b in json.loads(out)["benchmarks"]:
        res["forward" if "forward" in b["name"] else "fwd_bwd"] = b["rtf"]
    return res


def torch_version(threads: int, repeats: int = 3) -> dict:
    import torch

    torch.set_num_threads(threads)
    sr, seconds = 16000.0, 2.0
    n = int(sr * seconds)
    m = torch.arange(21, 109, dtype=torch.float32)
    # Per-key learnable parameters with the concert-grand defaults (Rigaud et al. DAFx-11 for B,
    # Chaigne & Askenfelt 1994 for damping).
    log_b = torch.log(torch.exp(0.0926 * m - 13.64) + torch.exp(-0.0847 * m - 5.82)).requires_grad_()
    tuning = torch.zeros(88, requires_grad=True)
    b1 = torch.full((88,), 0.5, requires_grad=True)
    b3 = torch.full((88,), 6.25e-9, requires_grad=True)
    cutoff = torch.full((88,), math.log(3000.0), requires_grad=True)
    velocity = torch.tensor([60.0 + 3 * i for i in range(10)], requires_grad=True)
    onset = torch.tensor([0.003 * i for i in range(10)], requires_grad=True)
    offset = torch.full((10,), 1.5, requires_grad=True)
    body = torch.randn(2000) * torch.exp(-torch.arange(2000) / 200.0)
    body[0] = 1.0
    room = torch.randn(19200) * torch.exp(-torch.arange(19200) / 2800.0) * 0.05
    room[0] = 1.0
    body.requires_grad_()
    room.requires_grad_()
    params = [log_b, tuning, b1, b3, cutoff, velocity, onset, offset, body, room]

    # The mode table (which key, string, partial) is structure, not a parameter.
    note_of, key_of, part_of, detune_of = [], [], [], []
    for i, key in enumerate(KEYS):
        strings = 1 if key < 31 else (2 if key < 41 else 3)
        f0 = 440.0 * 2 ** ((key - 69) / 12)
        parts = max(4, min(100, int(100 - (key - 21) * 1.1)))
        for s in range(strings):
            for p in range(1, parts + 1):
                if p * f0 >= 0.45 * sr:
                    break
                note_of.append(i), key_of.append(key - 21), part_of.append(p)
                detune_of.append((s - (strings - 1) / 2) * 0.8)
    note_of, key_of = torch.tensor(note_of), torch.tensor(key_of)
    part = torch.tensor(part_of, dtype=torch.float32)
    detune = torch.tensor(detune_of)
    t = torch.arange(n, dtype=torch.float32) / sr

    def render():
        f0 = 440.0 * 2 ** ((key_of.float() + 21 - 69) / 12 + (tuning[key_of] + detune) / 1200)
        f = part * f0 * torch.sqrt(1 + torch.exp(log_b[key_of]) * part ** 2)
        w = 2 * math.pi * f
        sigma = b1[key_of] + b3[key_of] * w ** 2
        v = velocity[note_of] / 127
        amp = torch.sin(math.pi * part / 8) / part * v ** 2 * torch.exp(-f / (torch.exp(cutoff[key_of]) * (0.5 + v)))
        tau = (t[None, :] - onset[note_of][:, None]).clamp(min=0)
        rel = 0.004 * torch.nn.functional.softplus((t[None, :] - offset[note_of][:, None]) / 0.004)
        y = (amp[:, None] * torch.exp(-sigma[:, None] * tau - 46.0 * rel) * torch.sin(w[:, None] * tau)).sum(0)
        size = 1 << math.ceil(math.log2(n + room.numel()))
        ir = torch.fft.irfft(torch.fft.rfft(body, size) * torch.fft.rfft(room, size), size)[: room.numel()]
        return torch.fft.irfft(torch.fft.rfft(y, size) * torch.fft.rfft(ir, size), size)[:n]

    gy = torch.randn(n)
    res = {}
    for mode in ("forward", "fwd_bwd"):
        best = float("inf")
        for _ in range(repeats):
            for p in params:
                p.grad = None
            t0 = time.process_time()
            if mode == "forward":
                with torch.no_grad():
                    render()
            else:
                (render() * gy).sum().backward()
            best = min(best, time.process_time() - t0)
        res[mode] = seconds / best
    res["modes"] = int(part.numel())
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    mine = ours(args.build)
    try:
        theirs = torch_version(args.threads)
    except ImportError:
        print("PyTorch is not installed: ours only")
        print(f"pianograd  forward {mine['forward']:8.1f}x real time   forward+backward {mine['fwd_bwd']:8.1f}x")
        return 0
    print(f"10-note chord, 2 s at 16 kHz, {args.threads} thread(s); real-time factor (higher is faster)")
    print(f"{'':12}{'forward':>12}{'fwd+bwd':>12}")
    print(f"{'pianograd':12}{mine['forward']:11.1f}x{mine['fwd_bwd']:11.1f}x")
    print(f"{'PyTorch':12}{theirs['forward']:11.2f}x{theirs['fwd_bwd']:11.2f}x   ({theirs['modes']} modes)")
    print(f"{'ratio':12}{mine['forward'] / theirs['forward']:11.1f}x{mine['fwd_bwd'] / theirs['fwd_bwd']:11.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
