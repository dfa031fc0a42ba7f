"""Golden values for pg.ctc_loss from an independent implementation, PyTorch's.

Writes torch_reference.json next to this file: for a few seeded random cases, the inputs (logits
[B,T,C], padded targets [B,S], lengths, blank) and torch.nn.functional.ctc_loss(reduction='none') with
its gradient w.r.t. the raw logits (log_softmax applied in torch, backprop through it; the upstream
gradient of loss b is 1). Run with a Python that has torch (not needed by the tests, which only read the
JSON):  python tests/data/ctc/make_torch_reference.py
"""
from __future__ import annotations

import json
import pathlib

import torch


def case(name: str, seed: int, B: int, T: int, C: int, S: int, input_lengths, target_lengths,
         blank: int = 0, repeats: bool = False, scale: float = 2.0) -> dict:
    g = torch.Generator().manual_seed(seed)
    logits = (scale * torch.randn(B, T, C, generator=g, dtype=torch.float64)).requires_grad_(True)
    labels = [c for c in range(C) if c != blank]
    targets = torch.tensor(labels)[torch.randint(0, len(labels), (B, S), generator=g)]
    if repeats:  # force adjacent equal labels, which need a blank between them
        targets[:, 1] = targets[:, 0]
        targets[:, 3 % S] = targets[:, 2 % S]
    il = torch.tensor(input_lengths, dtype=torch.int64)
    tl = torch.tensor(target_lengths, dtype=torch.int64)
    for b in range(B):  # padding past the target length: a value the op must never read
        targets[b, tl[b]:] = blank
    log_probs = torch.log_softmax(logits, dim=2).transpose(0, 1)  # torch wants [T,B,C]
    loss = torch.nn.functional.ctc_loss(log_probs, targets, il, tl, blank=blank, reduction="none",
                                        zero_infinity=False)
    loss.sum().backward()
    grad = logits.grad.clone()
    for b in range(B):  # torch leaves NaN in an infeasible row; ours is zero there
        if torch.isinf(loss[b]):
            grad[b] = 0
    return {
        "name": name, "blank": blank,
        "logits": logits.detach().tolist(), "targets": targets.tolist(),
        "input_lengths": il.tolist(), "target_lengths": tl.tolist(),
        "loss": [float(v) if torch.isfinite(v) else "inf" for v in loss.detach()],
        "grad": grad.tolist(),
    }


def main() -> None:
    cases = [
        case("B3_T12_C6_repeats", 1, 3, 12, 6, 5, [12, 9, 7], [5, 4, 3], repeats=True),
        case("B3_T12_C6_varied", 2, 3, 12, 6, 6, [12, 12, 5], [6, 2, 0]),
        case("B2_T10_C5_blank_last", 3, 2, 10, 5, 4, [10, 8], [4, 4], blank=4, repeats=True),
        case("B4_T20_C8_peaked", 4, 4, 20, 8, 7, [20, 17, 11, 20], [7, 5, 1, 6], scale=5.0),
        case("B2_T6_C4_infeasible", 5, 2, 6, 4, 4, [6, 3], [3, 3], repeats=True),
    ]
    out = pathlib.Path(__file__).with_name("torch_reference.json")
    meta = {"generator": "tests/data/ctc/make_torch_reference.py", "torch": torch.__version__,
            "loss": "ctc_loss(log_softmax(logits), reduction='none')", "grad": "d sum(loss) / d logits"}
    out.write_text(json.dumps({"meta": meta, "cases": cases}, separators=(",", ":")) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()
