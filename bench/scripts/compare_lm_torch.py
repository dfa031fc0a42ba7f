#!/usr/bin/env python3
"""The motion LM's training step in pianograd vs the same model in PyTorch CPU eager, in one process.

The PyTorch model mirrors models/motion_lm.{h,cpp} layer for layer: token embedding, pre-norm blocks
(LayerNorm, one qkv Linear, rotary positions on the two halves of each head, causal attention through
F.scaled_dot_product_attention, output projection, tanh-GELU MLP), a final LayerNorm and an output tied to
the embedding, and with `state_features` the projection of the piano state (models/motion_state.h; the
mirror is handed the state that pg.motion_state_features computes once, while our step computes it
from the tokens every time, ~0.2 ms of the step); cross-entropy, gradient clipping and AdamW as `pianograd train lm` runs them. Before
timing, the PyTorch copy gets our weights and both losses are compared without dropout (they must agree
to float32 rounding, so the two sides compute the same thing); the timed steps use the configured
dropout on both. Both libraries run on the same number of threads; the steps are interleaved so that
both see the same machine load. Skips cleanly when torch is not installed.

    PYTHONPATH=build/python /tmp/torchvenv/bin/python bench/scripts/compare_lm_torch.py --threads 1
"""
import argparse
import json
import sys

import numpy as np

from _timing import print_ratios, time_interleaved


def tokens(batch, length, vocab, seed=0):
    # Token ids past the specials (PAD 0, BOS 1, EOS 2): every position counts in the loss.
    return np.random.default_rng(seed).integers(3, vocab, size=(batch, length + 1)).astype(np.int64)


def torch_model(torch, cfg):
    nn, F = torch.nn, torch.nn.functional
    D, H, L = cfg["d_model"], cfg["n_heads"], cfg["n_layers"]
    Dh = D // H

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
            self.qkv, self.proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
            self.fc1, self.fc2 = nn.Linear(D, cfg["d_ff"]), nn.Linear(cfg["d_ff"], D)

    class MotionLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(cfg["vocab_size"], D)
            self.blocks = nn.ModuleList(Block() for _ in range(L))
            self.ln_f = nn.LayerNorm(D)
            if cfg.get("state_features"):
                self.state_proj = nn.Linear(cfg["n_state"], D, bias=False)
            half = Dh // 2
            pos = torch.arange(cfg["context"], dtype=torch.float64)[:, None]
            ang = pos * cfg["rope_base"] ** (-torch.arange(half, dtype=torch.float64) / half)
            self.register_buffer("cos", ang.cos().float())
            self.register_buffer("sin", ang.sin().float())

        def rotate(self, x):
            T, half = x.shape[2], x.shape[3] // 2
            c, s = self.cos[:T], self.sin[:T]
            x1, x2 = x[..., :half], x[..., half:]
            return torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], -1)

        def forward(self, t, state=None):
            B, T = t.shape
            p = cfg["dropout"] if self.training else 0.0
            h = self.embedding(t)
            if state is not None:
                h = h + self.state_proj(state)
            h = F.dropout(h, p, self.training)
            for b in self.blocks:
                q, k, v = b.qkv(b.ln1(h)).reshape(B, T, 3, H, Dh).permute(2, 0, 3, 1, 4)
                a = F.scaled_dot_product_attention(self.rotate(q), self.rotate(k), v, is_causal=True)
                h = h + F.dropout(b.proj(a.transpose(1, 2).reshape(B, T, D)), p, self.training)
                m = b.fc2(F.gelu(b.fc1(b.ln2(h)), approximate="tanh"))
                h = h + F.dropout(m, p, self.training)
            return self.ln_f(h) @ self.embedding.weight.T

    return MotionLM()


def load_ours_into(torch, model, state):
    """Our state dict ("block0.qkv.weight", ...) into the mirror ("blocks.0.qkv.weight", ...)."""
    mine = model.state_dict()
    with torch.no_grad():
        for name, t in state.items():
            if name.startswith("rope_"):
                continue
            key = name
            if name.startswith("block"):
                idx, rest = name[5:].split(".", 1)
                key = f"blocks.{idx}.{rest}"
            mine[key].copy_(torch.from_numpy(np.ascontiguousarray(t.numpy())))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--length", type=int, default=512, help="tokens per crop (default: the context)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--config", default=None, help="an LM config JSON (configs/lm/*.json); its model block is used")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("torch is not installed: skipping the comparison")
        return 0
    import pianograd as pg
    from pianograd import optim

    mc = pg.MotionLMConfig()
    if args.config:
        for k, v in json.load(open(args.config)).get("model", {}).items():
            setattr(mc, k, v)
    cfg = json.loads(mc.to_json())
    x = tokens(args.batch, min(args.length, cfg["context"]), cfg["vocab_size"])
    cfg["n_state"] = int(pg.motion_state_features([1]).shape[1])

    pg.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    ours = pg.MotionLM(mc)
    theirs = torch_model(torch, cfg)
    load_ours_into(torch, theirs, ours.state_dict())

    xo, xt = pg.from_numpy(x), torch.from_numpy(x)
    V = cfg["vocab_size"]
    st = None
    if cfg["state_features"]:
        st = torch.from_numpy(np.stack([pg.motion_state_features(r[:-1]) for r in x]))

    def torch_loss():
        y = theirs(xt[:, :-1], st)
        return torch.nn.functional.cross_entropy(y.reshape(-1, V), xt[:, 1:].reshape(-1))

    ours.eval()
    theirs.eval()
    with torch.no_grad():
        lt = torch_loss().item()
    lo = ours.loss(xo).item()
    print(f"same weights, no dropout: loss pianograd {lo:.6f}, torch {lt:.6f} (|diff| {abs(lo - lt):.1e})")
    if abs(lo - lt) > 1e-3 * max(1.0, abs(lt)):
        print("the two models disagree: the comparison would not be of the same model")
        return 1
    ours.train()
    theirs.train()

    params = list(ours.parameters())
    opt_o = optim.AdamW(params, lr=1e-3, weight_decay=0.05)
    opt_t = torch.optim.AdamW(theirs.parameters(), lr=1e-3, weight_decay=0.05)

    def step_ours():
        opt_o.zero_grad()
        ours.loss(xo).backward()
        optim.clip_grad_norm(params, 1.0)
        opt_o.step()

    def step_torch():
        opt_t.zero_grad()
        torch_loss().backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
        opt_t.step()

    t_ours, t_torch = time_interleaved([step_ours, step_torch], args.repeats)
    n_torch = sum(p.numel() for p in theirs.parameters())
    print(f"motion LM train step: d_model {cfg['d_model']}, {cfg['n_layers']} layers, {cfg['n_heads']} heads, "
          f"d_ff {cfg['d_ff']}, state features {cfg['state_features']}, batch {args.batch} x {x.shape[1] - 1} tokens, dropout {cfg['dropout']}, "
          f"{args.threads} thread(s), {args.repeats} steps each; params ours {ours.parameter_count()} / torch "
          f"{n_torch}; torch {torch.__version__}")
    print_ratios(t_ours, t_torch)
    tok = args.batch * (x.shape[1] - 1)
    print(f"tokens/s (best): pianograd {tok / min(t_ours):.0f}, torch {tok / min(t_torch):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
