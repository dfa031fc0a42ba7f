#!/usr/bin/env python3
"""Our transcription model vs the same architecture written the way a researcher would in PyTorch.

One training step (forward, loss, backward, Adam) on a batch of 8 x 4 s of 16 kHz noise-like audio with
random sparse targets, both libraries on the same number of threads, in one process. The PyTorch model
mirrors models/transcriber.{h,cpp} layer for layer (torch.stft, the SAME filterbank matrix taken from
our model's buffer, log, per-example max normalisation, harmonic stacking, nn.Conv2d stack, [1x3]
readout, [1xK] key conv, dilated [Kx1] temporal convs, heads with the detached onset gating the frame
head, BCE-with-logits + masked velocity MSE). Skips cleanly when torch is not installed.

    PYTHONPATH=build-convspeed/python /tmp/torchvenv/bin/python bench/scripts/compare_transcriber_torch.py \
        --threads 1 --config lead
"""
import argparse
import math
import sys

import numpy as np

from _timing import print_ratios, time_interleaved


# Overrides of TranscriberConfig's defaults, by --config name.
CONFIGS = {"default": {}, "lead": {"key_channels": 24, "temporal_channels": 32, "frame_channels": 16}}


def make_batch(batch, n, frames, seed=0):
    rng = np.random.default_rng(seed)
    audio = (0.1 * rng.standard_normal((batch, n))).astype(np.float32)
    onset = (rng.random((batch, frames, 88)) < 0.005).astype(np.float32)
    frame = (rng.random((batch, frames, 88)) < 0.05).astype(np.float32)
    return audio, {"onset": onset, "frame": frame, "offset": onset.copy(), "velocity": onset * 0.6}


def ours(cfg_json, audio, targets, threads):
    import pianograd as pg

    pg.set_num_threads(threads)
    m = pg.Transcriber(pg.TranscriberConfig.from_json(cfg_json))
    opt = pg.optim.Adam(m.parameters(), lr=1e-3)
    x = pg.from_numpy(audio)
    tg = {k: pg.from_numpy(v) for k, v in targets.items()}

    def step():
        opt.zero_grad()
        loss = pg.transcription_loss(m(x), tg)
        loss.total.backward()
        opt.step()

    return step, m


def torch_model(torch, cfg, fb):
    nn, F = torch.nn, torch.nn.functional

    class TorchTranscriber(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("fb", torch.from_numpy(fb))
            self.shifts = [round(36 * math.log2(h)) for h in cfg["harmonics"]]
            cin, convs = len(cfg["harmonics"]), []
            for c in cfg["conv_channels"]:
                convs.append(nn.Conv2d(cin, c, 3, padding=1))
                cin = c
            self.convs = nn.ModuleList(convs)
            d, kc, t = cfg["key_channels"], cfg["key_context_channels"], cfg["temporal_channels"]
            self.readout = nn.Conv2d(cin, d, (1, 3))
            self.key_conv = nn.Conv2d(d, kc, (1, cfg["key_kernel"]), padding=(0, cfg["key_kernel"] // 2))
            cin, temporal = d + kc, []
            k = cfg["temporal_kernel"]
            for dil in cfg["temporal_dilations"]:
                temporal.append(nn.Conv2d(cin, t, (k, 1), padding=(dil * (k // 2), 0), dilation=(dil, 1)))
                cin = t
            self.temporal = nn.ModuleList(temporal)
            self.heads = nn.Conv2d(cin, 3, 1)
            self.frame_hidden = nn.Conv2d(cin + 1, cfg["frame_channels"], (3, 1), padding=(1, 0))
            self.frame_out = nn.Conv2d(cfg["frame_channels"], 1, 1)
            self.window = torch.hann_window(cfg["n_fft"], periodic=True)

        def forward(self, audio):
            b = audio.shape[0]
            spec = torch.stft(audio, cfg["n_fft"], cfg["hop"], window=self.window, center=True,
                              pad_mode="reflect", return_complex=True).abs().transpose(1, 2)
            spec = spec[..., : self.fb.shape[0]]
            logspec = torch.log(spec @ self.fb + 1e-6)
            peak = logspec.reshape(b, -1).amax(dim=1).reshape(b, 1, 1)
            floor = cfg["log_floor"]
            x = ((logspec - peak).clamp(-floor, 0) + floor) / floor
            lo, hi = max(0, -min(self.shifts)), max(0, max(self.shifts))
            xp = F.pad(x, (lo, hi))
            x = torch.stack([xp[..., lo + s: lo + s + 264] for s in self.shifts], 1)
            frames = x.shape[2]
            for c in self.convs:
                x = F.relu(c(x))
            h = self.readout(x.reshape(b, x.shape[1], frames * 88, 3))
            h = F.relu(h.reshape(b, -1, frames, 88))
            t = torch.cat([h, F.relu(self.key_conv(h))], 1)
            for layer in self.temporal:
                t = F.relu(layer(t))
            heads = self.heads(t)
            onset, offset, velocity = heads[:, 0], heads[:, 1], heads[:, 2]
            gate = torch.sigmoid(heads[:, :1].detach())
            frame = self.frame_out(F.relu(self.frame_hidden(torch.cat([t, gate], 1))))[:, 0]
            return onset, frame, offset, velocity

    return TorchTranscriber()


def torch_step(cfg, fb, audio, targets, threads):
    import torch

    torch.set_num_threads(threads)
    F = torch.nn.functional
    model = torch_model(torch, cfg, fb)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.from_numpy(audio)
    tg = {k: torch.from_numpy(v) for k, v in targets.items()}

    def step():
        opt.zero_grad()
        onset, frame, offset, velocity = model(x)
        lo = F.binary_cross_entropy_with_logits(onset, tg["onset"], pos_weight=torch.tensor(5.0))
        lf = F.binary_cross_entropy_with_logits(frame, tg["frame"])
        lf2 = F.binary_cross_entropy_with_logits(offset, tg["offset"], pos_weight=torch.tensor(2.0))
        err = torch.sigmoid(velocity) - tg["velocity"]
        lv = (tg["onset"] * err * err).sum() / tg["onset"].sum().clamp(min=1)
        (lo + lf + lf2 + lv).backward()
        opt.step()

    return step, sum(p.numel() for p in model.parameters())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--config", choices=sorted(CONFIGS), default="default",
                    help="model config: default = TranscriberConfig(), lead = the config being trained "
                         "(key 24 / temporal 32 / frame 16 channels)")
    args = ap.parse_args()
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch is not installed: skipping the comparison")
        return 0
    import json

    import pianograd as pg

    cfg = json.loads(pg.TranscriberConfig().to_json())
    cfg.update(CONFIGS[args.config])
    cfg_json = json.dumps(cfg)
    n = int(args.seconds * cfg["sample_rate"])
    frames = n // cfg["hop"] + 1
    audio, targets = make_batch(args.batch, n, frames)
    step_ours, m = ours(cfg_json, audio, targets, args.threads)
    fb = m.state_dict()["filterbank"].numpy().astype(np.float32)
    step_torch, torch_params = torch_step(cfg, fb, audio, targets, args.threads)
    t_ours, t_torch = time_interleaved([step_ours, step_torch], args.repeats)
    print(f"transcriber train step ({args.config} config), batch {args.batch} x {args.seconds:g} s, "
          f"{args.threads} thread(s), {args.repeats} steps each; params ours {m.parameter_count()} / torch "
          f"{torch_params}")
    print_ratios(t_ours, t_torch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
