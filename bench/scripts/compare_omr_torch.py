#!/usr/bin/env python3
"""The OMR model's training step and inference in pianograd vs the same CRNN in PyTorch CPU eager.

The PyTorch model mirrors pianograd.omr.model.OmrNet layer for layer and under the same parameter names:
four 3x3 nn.Conv2d + ReLU (one 2x2 max pool, then three height-only stride-(2,1) convs), the per-column
Linear + LayerNorm + ReLU, a forward nn.GRU and a backward one (batch_first, torch.flip for the reversal;
our GRU has torch's r, z, n gate order and weight_ih_l0 / weight_hh_l0 / bias_* names), concat, the
output Linear; F.ctc_loss on log_softmax of the logits permuted to [T, B, V] (blank 0, mean, zero_infinity).
The training step is pianograd.omr.train's: forward, CTC, backward, clip_grad_norm 5.0, AdamW.

Before timing, the PyTorch copy gets our initial weights and the script checks that logits, loss and
a few parameter gradients agree (exit status 1 if not; gradients to 1e-3: torch's float32 CTC gradient is
itself ~1e-4 off a float64 reference, ours ~1e-7, so that is the size of the differences). Then it times the training step at each batch
size and thread count (ours and torch interleaved, so both see the same machine load) and inference
(strips per second under no_grad, one thread). Reports ours alone when torch is not installed.

    PYTHONPATH=build/python /tmp/torchvenv/bin/python bench/scripts/compare_omr_torch.py
    ... --batches 16,1 --threads 1,2 --repeats 7 --infer-batches 1,8
"""
import argparse
import os
import statistics
import sys

import numpy as np

from _timing import time_interleaved

HEIGHT = 64


def make_batch(batch, width, vocab, seed=0):
    """Sparse ink in [0,1] (like staff strips: mostly paper), CTC targets of 30-60 tokens per strip."""
    rng = np.random.default_rng(seed)
    x = (rng.random((batch, 1, HEIGHT, width)) < 0.12).astype(np.float32)
    x *= rng.uniform(0.5, 1.0, size=x.shape).astype(np.float32)
    frames = (width // 2) // 2
    tl = rng.integers(30, min(61, (frames - 1) // 2 + 1), size=batch).astype(np.int64)
    tg = np.zeros((batch, int(tl.max())), dtype=np.int64)
    for b in range(batch):
        tg[b, :tl[b]] = rng.integers(1, vocab, size=tl[b])
    return x, tg, np.full(batch, frames, dtype=np.int64), tl


def torch_model(torch, net):
    nn, F = torch.nn, torch.nn.functional
    c1, c2, c3, c4 = net.channels
    H, V = net.hidden, net.vocab_size

    class TorchOmrNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
            self.conv2 = nn.Conv2d(c1, c2, 3, stride=(2, 1), padding=1)
            self.conv3 = nn.Conv2d(c2, c3, 3, stride=(2, 1), padding=1)
            self.conv4 = nn.Conv2d(c3, c4, 3, stride=(2, 1), padding=1)
            self.proj = nn.Linear(c4 * 4, H)
            self.norm = nn.LayerNorm(H)
            self.gru_f = nn.GRU(H, H, batch_first=True)
            self.gru_b = nn.GRU(H, H, batch_first=True)
            self.out = nn.Linear(2 * H, V)

        def forward(self, x):
            h = F.max_pool2d(F.relu(self.conv1(x)), 2)
            h = F.relu(self.conv2(h))
            h = F.relu(self.conv3(h))
            h = F.relu(self.conv4(h))
            b, c, hh, w = h.shape
            f = h.permute(0, 3, 1, 2).reshape(b, w, c * hh)
            f = F.relu(self.norm(self.proj(f)))
            fwd, _ = self.gru_f(f)
            bwd, _ = self.gru_b(torch.flip(f, [1]))
            return self.out(torch.cat([fwd, torch.flip(bwd, [1])], 2))  # [B, T, V]

    return TorchOmrNet()


def torch_ctc(torch, logits, tg, il, tl):
    lp = torch.nn.functional.log_softmax(logits, -1).permute(1, 0, 2)  # [T, B, V]
    return torch.nn.functional.ctc_loss(lp, tg, il, tl, blank=0, reduction="mean", zero_infinity=True)


def rel(a, b):
    """max |a - b| / max |b|."""
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def verify(pg, torch, net, theirs, batch):
    """Same input and weights: logits, CTC loss and gradients must agree. Returns True if they do."""
    x, tg, il, tl = batch
    logits = net(pg.from_numpy(x))
    loss = pg.ctc_loss(logits, pg.tensor(tg), pg.tensor(il), pg.tensor(tl), blank=0, reduction="mean",
                       zero_infinity=True)
    loss.backward()  # a fresh net: no gradients yet
    yt = theirs(torch.from_numpy(x))
    lt = torch_ctc(torch, yt, torch.from_numpy(tg), torch.from_numpy(il), torch.from_numpy(tl))
    theirs.zero_grad(set_to_none=True)
    lt.backward()

    ok = True
    r = rel(logits.numpy(), yt.detach().numpy())
    ok &= r < 1e-4
    print(f"  logits {tuple(logits.shape)}: max rel diff {r:.1e}  {'ok' if r < 1e-4 else 'FAIL (> 1e-4)'}")
    lo, lt_ = float(loss.item()), float(lt.item())
    r = abs(lo - lt_) / max(abs(lt_), 1e-30)
    ok &= r < 1e-4
    print(f"  CTC loss: pianograd {lo:.6f}, torch {lt_:.6f}, rel diff {r:.1e}  {'ok' if r < 1e-4 else 'FAIL'}")
    ours_p, their_p = dict(net.named_parameters()), dict(theirs.named_parameters())
    for name in ("conv1.weight", "conv3.bias", "proj.weight", "norm.weight", "gru_f.weight_hh_l0",
                 "gru_b.weight_ih_l0", "gru_b.bias_hh_l0", "out.weight"):
        r = rel(ours_p[name].grad.numpy(), their_p[name].grad.numpy())
        ok &= r < 1e-3
        print(f"  grad {name:20} max rel diff {r:.1e}  {'ok' if r < 1e-3 else 'FAIL (> 1e-3)'}")
    return bool(ok)


def train_steps(pg, torch, net, theirs, batch):
    from pianograd import optim

    x, tg, il, tl = batch
    xo, tgo, ilo, tlo = pg.from_numpy(x), pg.tensor(tg), pg.tensor(il), pg.tensor(tl)
    params = list(net.parameters())
    opt_o = optim.AdamW(params, lr=1e-3, weight_decay=1e-4)

    def step_ours():  # pianograd.omr.train.Trainer.run, less the schedule and logging
        loss = pg.ctc_loss(net(xo), tgo, ilo, tlo, blank=0, reduction="mean", zero_infinity=True)
        opt_o.zero_grad()
        loss.backward()
        optim.clip_grad_norm(params, 5.0)
        opt_o.step()

    steps = [step_ours]
    if theirs is not None:
        xt, tgt, ilt, tlt = (torch.from_numpy(a) for a in (x, tg, il, tl))
        opt_t = torch.optim.AdamW(theirs.parameters(), lr=1e-3, weight_decay=1e-4)

        def step_torch():
            loss = torch_ctc(torch, theirs(xt), tgt, ilt, tlt)
            opt_t.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(theirs.parameters(), 5.0)
            opt_t.step()

        steps.append(step_torch)
    return steps


def infer_steps(pg, torch, net, theirs, x):
    xo = pg.from_numpy(x)

    def ours():
        with pg.no_grad():
            net(xo)

    steps = [ours]
    if theirs is not None:
        xt = torch.from_numpy(x)

        def torch_fwd():
            with torch.no_grad():
                theirs(xt)

        steps.append(torch_fwd)
    return steps


def set_threads(pg, torch, n):
    pg.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


def row(label, times, scale, faster_is_higher=False):
    """One table row: ours, torch (or -) and torch/ours in the table's unit."""
    med = [scale(statistics.median(t)) for t in times]
    ours = f"{med[0]:10.1f}"
    if len(med) == 1:
        return f"{label:28} {ours} {'-':>10} {'-':>10}"
    ratio = med[0] / med[1] if faster_is_higher else med[1] / med[0]
    return f"{label:28} {ours} {med[1]:10.1f} {ratio:10.2f}"


def ints(s):
    return [int(v) for v in s.split(",") if v]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=ints, default=[16, 1], help="training batch sizes (default 16,1)")
    ap.add_argument("--threads", type=ints, default=None,
                    help="thread counts for the training step (default: 1 and all cores)")
    ap.add_argument("--width", type=int, default=512, help="strip width in px (height 64)")
    ap.add_argument("--repeats", type=int, default=7, help="timed steps each (median reported)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps each before timing")
    ap.add_argument("--infer-batches", type=ints, default=[1, 8], help="inference batch sizes (default 1,8)")
    ap.add_argument("--infer-repeats", type=int, default=15)
    ap.add_argument("--skip-check", action="store_true", help="time without the equality check")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    threads = args.threads or sorted({1, cores})

    import pianograd as pg
    from pianograd.omr.model import OmrNet

    try:
        import torch
    except ImportError:
        torch = None
        print("PyTorch not installed; ours only")

    net = OmrNet(seed=0)
    net.train()
    theirs = None
    n_ours = sum(int(np.prod(p.shape)) for p in net.parameters())
    if torch is not None:
        theirs = torch_model(torch, net)
        state = {k: torch.from_numpy(np.ascontiguousarray(v.numpy())) for k, v in net.named_parameters()}
        theirs.load_state_dict(state, strict=True)  # same names; strict: every tensor copied
        theirs.train()
        n_torch = sum(p.numel() for p in theirs.parameters())
        print(f"OmrNet: channels {net.channels}, hidden {net.hidden}, vocabulary {net.vocab_size}; params ours "
              f"{n_ours:,} / torch {n_torch:,}; torch {torch.__version__}; {cores} cores")
        if not args.skip_check:
            set_threads(pg, torch, cores)
            print("check (our initial weights in both, batch 4 x 64x%d, same input):" % args.width)
            if not verify(pg, torch, net, theirs, make_batch(4, args.width, net.vocab_size, seed=1)):
                print("the two models disagree: the comparison would not be of the same model")
                return 1
            print("check passed: both compute the same function")
    else:
        print(f"OmrNet: channels {net.channels}, hidden {net.hidden}, vocabulary {net.vocab_size}; "
              f"params {n_ours:,}; {cores} cores")

    print(f"\ntraining step (forward, CTC, backward, clip 5.0, AdamW), 64x{args.width} strips, "
          f"median of {args.repeats} after {args.warmup} warm-up, interleaved:")
    print(f"{'':28} {'ours ms':>10} {'torch ms':>10} {'torch/ours':>10}")
    for b in args.batches:
        batch = make_batch(b, args.width, net.vocab_size)
        steps = train_steps(pg, torch, net, theirs, batch)
        for n in threads:
            set_threads(pg, torch, n)
            for _ in range(args.warmup - 1):  # time_interleaved runs one more
                for s in steps:
                    s()
            times = time_interleaved(steps, args.repeats)
            print(row(f"batch {b}, {n} thread(s)", times, lambda t: t * 1e3), flush=True)

    net.eval()
    if theirs is not None:
        theirs.eval()
    set_threads(pg, torch, 1)
    print(f"\ninference (no_grad, eval), 64x{args.width} strips, 1 thread, median of {args.infer_repeats}:")
    print(f"{'':28} {'ours /s':>10} {'torch /s':>10} {'ours/torch':>10}")
    for b in args.infer_batches:
        x = make_batch(b, args.width, net.vocab_size)[0]
        steps = infer_steps(pg, torch, net, theirs, x)
        for _ in range(args.warmup - 1):
            for s in steps:
                s()
        times = time_interleaved(steps, args.infer_repeats)
        print(row(f"strips/s, batch {b}", times, lambda t, b=b: b / t, faster_is_higher=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
