"""Training g on engraved strips with CTC: `python -m pianograd.omr.train --config configs/omr/x.json --out runs/omr`.

Signal (a) of issue 13, synthetic pairs from the engraver. Checkpoints are atomic and resumable
(pianograd.checkpointing); batches are drawn from width buckets, so padding stays small.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

import pianograd as pg
from pianograd import checkpointing, distributed, optim

from ..data.splits import labelled_subset
from .data import OmrDataConfig, StripSet, build, build_piano, build_systems, concat
from .model import OmrNet, batch_strips, frames, load_model, save_model


@dataclass
class OmrTrainConfig:
    data: OmrDataConfig = field(default_factory=OmrDataConfig)
    channels: List[int] = field(default_factory=lambda: [32, 64, 96, 128])
    hidden: int = 192
    batch: int = 16
    lr: float = 1e-3
    min_lr: float = 5e-5
    warmup_steps: int = 100
    steps: int = 3000
    time_budget_s: float = 0.0      # stop early after this long (0 = none); the schedule still ends at `steps`
    eval_every: int = 250
    eval_strips: int = 200
    checkpoint_every: int = 250
    seed: int = 0
    threads: int = 0
    n_labelled: int = 0             # pair budget N: works whose images keep their labels (0 = all)
    real: bool = True               # False: no work keeps its labels (N = 0; synthetic pairs only)
    synthetic: bool = True          # False: leave the synthetic staves out (the works' pairs only)
    pair_seed: int = 0
    self_train_from: int = 0        # signal (c): pseudo-label unlabelled images from this step (0 = off)
    self_train_every: int = 500
    self_train_max_nll: float = 0.05  # per token, of the greedy reading under CTC
    self_train_pool: int = 0        # read at most this many unlabelled strips per round (0 = all)
    # Where pseudo-labels come from: "images" - signal (c), the unlabelled works' staves read by g;
    # "audio" - signal (b), the audio_works works after the N labelled ones (in the pair order) come
    # with a recording instead of their labels, and g's readings of them count where h's transcription
    # of the recording confirms them (omr.audio_pairs); no other unlabelled work is read.
    pseudo_source: str = "images"
    audio_works: int = 16           # signal (b): how many score-audio pairs
    audio_max_nll: float = 0.5      # signal (b): readings less sure than this are not even checked
    audio_share: float = 1.0        # signal (b): the share of a reading's notes the audio must confirm
    audio_seed: int = 0             # signal (b): which humanised performance of a work is recorded
    init: str = ""                  # start from these weights (a model file; its shape must match)

    def to_dict(self) -> dict:
        # Through JSON, so a config compares equal to the one a checkpoint stored (tuples become lists).
        return json.loads(json.dumps(asdict(self)))

    @staticmethod
    def from_dict(d: dict) -> "OmrTrainConfig":
        d = dict(d)
        data = OmrDataConfig(**d.pop("data", {}))
        return OmrTrainConfig(data=data, **d)


def greedy_ids(logits, lengths: List[int]) -> List[List[int]]:
    return [list(map(int, s)) for s in pg.ctc_greedy_decode(logits, pg.tensor(np.array(lengths, np.int64)), 0)]


def evaluate(net: OmrNet, s: StripSet, limit: Optional[int] = None, batch: int = 16) -> Dict[str, float]:
    """Corpus SER (greedy decoding) on the first `limit` strips."""
    n = len(s) if limit is None else min(limit, len(s))
    order = sorted(range(n), key=lambda i: s.strips[i].shape[1])
    edits = ref = 0
    net.eval()
    with pg.no_grad():
        for k in range(0, n, batch):
            idx = order[k:k + batch]
            x, lens = batch_strips([s.strips[i] for i in idx])
            hyp = greedy_ids(net(pg.tensor(x)), lens)
            for i, h in zip(idx, hyp):
                edits += pg.edit_distance(h, s.ids[i])
                ref += len(s.ids[i])
    net.train()
    return {"ser": edits / max(ref, 1), "strips": n}


class Trainer:
    def __init__(self, cfg: OmrTrainConfig, out: Path, progress: bool = True) -> None:
        # Data-parallel (pianograd.distributed): each rank draws its own batches, gradients are averaged.
        self.dp = distributed.context()
        self.cfg, self.out, self.progress = cfg, Path(out), progress and self.dp.is_main
        if self.dp.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        threads = self.dp.threads(cfg.threads)
        if threads:
            pg.set_num_threads(threads)
        progress = self.progress
        # Rank 0 engraves and caches the strips first; the other ranks then read its cache.
        self.train_set, self.valid_set = self.dp.main_first(
            lambda: (build(cfg.data, "train", progress=progress), build(cfg.data, "valid", progress=progress)))
        if cfg.data.piano_staves or cfg.data.piano_systems:
            self.train_set = concat(self.train_set, self.dp.main_first(lambda: build_piano(cfg.data, progress)))
        if cfg.data.corpus_systems:
            self.train_set = concat(self.train_set, self.dp.main_first(lambda: build_systems(cfg.data, progress)))
        # The pair budget: N works keep their labels, the others' images are unlabelled. Synthetic
        # staves are engraver pairs, labelled whatever N (or left out, cfg.synthetic off).
        synthetic = [bool(m.get("synthetic")) for m in self.train_set.meta]
        works = sorted({m["piece"] for m, syn in zip(self.train_set.meta, synthetic) if not syn})
        keep = set(labelled_subset(works, cfg.n_labelled, cfg.pair_seed)) if cfg.n_labelled else set(works)
        if not cfg.real:
            keep = set()
        if cfg.pseudo_source not in ("images", "audio"):
            raise ValueError(f"omr training: pseudo_source must be images or audio, got {cfg.pseudo_source!r}")
        self.audio_works: List[str] = []
        if cfg.pseudo_source == "audio":  # the next works in the pair order: images and audio, no labels
            order = labelled_subset(works, len(works), cfg.pair_seed)  # labelled_subset's N are its prefix
            self.audio_works = sorted(order[len(keep):len(keep) + cfg.audio_works])
            if not self.audio_works:
                raise ValueError("omr training: pseudo_source audio, but no work is left for score-audio pairs "
                                 f"({len(keep)} of {len(works)} keep their labels; audio_works {cfg.audio_works})")
        self.targets: Dict[int, List[int]] = {
            i: self.train_set.ids[i] for i in range(len(self.train_set))
            if (cfg.synthetic if synthetic[i] else self.train_set.meta[i]["piece"] in keep)}
        self.unlabelled = [i for i in range(len(self.train_set)) if i not in self.targets and not synthetic[i]]
        if self.audio_works:
            works_set = set(self.audio_works)
            self.unlabelled = [i for i in self.unlabelled if self.train_set.meta[i]["piece"] in works_set]
        if not self.targets:
            raise ValueError("omr training: no labelled strips (real and synthetic both off, or N picks no work)")
        self.pseudo: Dict[int, List[int]] = {}
        self._heard: Optional[Dict[str, np.ndarray]] = None  # signal (b): h's notes per work, on first use
        self._bar_q: Dict[str, List[float]] = {}
        self.rng = self.dp.rng(cfg.seed)
        pg.manual_seed(cfg.seed)
        self.net = OmrNet(cfg.channels, cfg.hidden)
        if cfg.init:
            self.net = load_model(Path(cfg.init))
            if list(self.net.channels) != list(cfg.channels) or self.net.hidden != cfg.hidden:
                raise ValueError(f"init model {cfg.init} has channels {self.net.channels} and hidden "
                                 f"{self.net.hidden}; the config asks for {list(cfg.channels)} and {cfg.hidden}")
        self.net.train()
        self.opt = optim.AdamW(list(self.net.parameters()), lr=cfg.lr, weight_decay=1e-4)
        self.sched = optim.WarmupCosineLR(cfg.lr, cfg.warmup_steps, max(cfg.steps, cfg.warmup_steps + 1), cfg.min_lr)
        self.step, self.log = 0, []
        found = checkpointing.resume(self.out, cfg.to_dict())
        if found is not None:
            ck, state, self.log = found
            self.net = load_model(ck / "model.safetensors")
            self.net.train()
            self.opt = optim.AdamW(list(self.net.parameters()), lr=cfg.lr, weight_decay=1e-4)
            self.opt.load_state_dict(pg.load_safetensors(str(ck / "optim.safetensors")))
            by_rank = state.get("rng_by_rank") or [state["rng"]]
            if self.dp.rank < len(by_rank):
                self.rng.bit_generator.state = by_rank[self.dp.rank]
            self.step = int(state["step"])
            self.pseudo = {int(k): v for k, v in state.get("pseudo", {}).items()}
        self._refresh_usable()

    def _refresh_usable(self) -> None:
        # CTC needs a frame per token (two between repeats); narrower strips cannot be learned from.
        labels = {**self.targets, **self.pseudo}
        self.labels = labels
        usable = [i for i, ids in labels.items() if frames(self.train_set.strips[i].shape[1]) >= 2 * len(ids) + 1]
        # By width (then index): a batch is a strip and its width neighbours, so padding stays small.
        self.usable = sorted(usable, key=lambda i: (self.train_set.strips[i].shape[1], i))

    def _batch(self):
        by_w = self.usable
        c = int(self.rng.integers(0, len(by_w)))
        lo = max(0, min(c - self.cfg.batch // 2, len(by_w) - self.cfg.batch))
        idx = by_w[lo:lo + self.cfg.batch]
        x, lens = batch_strips([self.train_set.strips[i] for i in idx])
        tl = [len(self.labels[i]) for i in idx]
        tg = np.zeros((len(idx), max(tl)), dtype=np.int64)
        for r, i in enumerate(idx):
            tg[r, :tl[r]] = self.labels[i]
        return x, tg, np.array(lens, np.int64), np.array(tl, np.int64)

    def _save(self) -> None:
        by_rank = self.dp.gather_json(self.rng.bit_generator.state)  # a collective: every rank comes here
        if not self.dp.is_main:
            return
        checkpointing.save(self.out, self.step, {
            "model.safetensors": lambda p: save_model(self.net, p),
            "optim.safetensors": lambda p: pg.save_safetensors(p, self.opt.state_dict()),
        }, {"step": self.step, "config": self.cfg.to_dict(), "rng": self.rng.bit_generator.state,
            "pseudo": {str(k): v for k, v in self.pseudo.items()},
            **({"rng_by_rank": by_rank} if self.dp.size > 1 else {})})

    def _self_train(self) -> dict:
        """Re-reads the unlabelled strips (or a fresh sample of self_train_pool of them); the confident,
        well-formed readings become their labels until the next round."""
        from .self_train import pseudo_labels

        if self.audio_works:
            return self._audio_round()
        # Each rank reads its share of the unlabelled strips (the ranks hold the same weights); the
        # readings are then pooled, so every rank trains on the same pseudo-labels.
        pool = self.unlabelled
        if self.cfg.self_train_pool and len(pool) > self.cfg.self_train_pool:
            # A fresh sample each round, the same on every rank (seeded by the step, not the rank's rng).
            pick = np.random.default_rng([self.cfg.seed, self.step]).choice(len(pool), self.cfg.self_train_pool,
                                                                            replace=False)
            pool = [pool[i] for i in sorted(pick)]
        mine = pool[self.dp.rank::self.dp.size]
        got = pseudo_labels(self.net, [self.train_set.strips[i] for i in mine], self.cfg.self_train_max_nll)
        pooled = self.dp.gather_json([[i, ids] for i, ids in zip(mine, got) if ids is not None])
        self.pseudo = {int(i): ids for part in pooled for i, ids in sorted(part)}
        self._refresh_usable()
        right = sum(self.pseudo[i] == self.train_set.ids[i] for i in self.pseudo)
        return {"pseudo": len(self.pseudo), "pseudo_exact": right / max(len(self.pseudo), 1)}

    def _audio_round(self) -> dict:
        """Signal (b): every rank reads the score-audio pairs' staves (the same weights, so the same
        readings) and keeps what h's transcription of their audio confirms."""
        from .audio_pairs import audio_pseudo_labels, work_audio_notes
        from .self_train import readings, well_formed
        from .tokens import TokenError, decode_ids, encode_ids
        from ..data.score import load_score

        if self._heard is None:
            self._heard = {w: work_audio_notes(w, self.cfg.audio_seed) for w in self.audio_works}
            self._bar_q = {w: list(load_score(w).bars) for w in self.audio_works}
        pool = self.unlabelled
        got = readings(self.net, [self.train_set.strips[i] for i in pool])
        toks = [decode_ids(r[0]) if r is not None and r[1] <= self.cfg.audio_max_nll else None for r in got]
        confirmed = audio_pseudo_labels(toks, [self.train_set.meta[i] for i in pool], self._heard, self._bar_q,
                                        self.cfg.audio_share)
        # The audio checks pitches and onsets; the metre checks durations (every inner bar full), which a
        # recording cannot: a reading must pass both. (Every reading helped align the work.)
        confirmed = [c if c is not None and well_formed(c) else None for c in confirmed]
        self.pseudo = {}
        for i, t in zip(pool, confirmed):
            try:
                if t is not None:
                    self.pseudo[i] = encode_ids(t)
            except TokenError:  # a respelling the vocabulary cannot print
                pass
        self._refresh_usable()
        right = sum(self.pseudo[i] == self.train_set.ids[i] for i in self.pseudo)
        fixed = sum(c is not None and c != t for c, t in zip(confirmed, toks))
        return {"pseudo": len(self.pseudo), "pseudo_exact": right / max(len(self.pseudo), 1),
                "audio_read": sum(t is not None for t in toks), "audio_corrected": fixed}

    def run(self) -> dict:
        cfg = self.cfg
        t0 = time.perf_counter()
        n_params = sum(int(np.prod(p.shape)) for p in self.net.parameters())
        if self.progress:
            print(f"omr: {n_params:,} parameters; {len(self.usable)}/{len(self.train_set)} training strips usable "
                  f"({len(self.targets)} labelled, {len(self.unlabelled)} unlabelled)")
        dp = self.dp
        dp.attach(list(self.net.parameters()))
        while self.step < cfg.steps:
            if cfg.time_budget_s and dp.any(time.perf_counter() - t0 > cfg.time_budget_s):
                break
            x, tg, il, tl = self._batch()
            logits = self.net(pg.tensor(x))
            loss = pg.ctc_loss(logits, pg.tensor(tg), pg.tensor(il), pg.tensor(tl), blank=0,
                               reduction="mean", zero_infinity=True)
            self.opt.zero_grad()
            loss.backward()
            dp.sync()
            optim.clip_grad_norm(list(self.net.parameters()), 5.0)
            self.sched.apply(self.opt)
            self.opt.step()
            self.step += 1
            rec = {"step": self.step, "loss": float(loss.item()), "s": round(time.perf_counter() - t0, 1)}
            if cfg.self_train_from and self.unlabelled and self.step >= cfg.self_train_from and \
                    (self.step - cfg.self_train_from) % cfg.self_train_every == 0:
                rec.update(self._self_train())
            if self.step % cfg.eval_every == 0 or self.step == cfg.steps:
                rec.update({f"valid_{k}": v for k, v in evaluate(self.net, self.valid_set, cfg.eval_strips).items()})
            if self.progress and (self.step % 25 == 0 or "valid_ser" in rec or "pseudo" in rec):
                print(json.dumps(rec), flush=True)
            self.log.append(rec)
            if dp.is_main:
                with open(self.out / "log.jsonl", "a") as f:
                    f.write(json.dumps(rec) + "\n")
            if self.step % cfg.checkpoint_every == 0:
                self._save()
        self._save()
        if dp.is_main:
            save_model(self.net, self.out / "model.safetensors", {"params": n_params, "steps": self.step})
        return {"steps": self.step, "params": n_params, "log": self.log[-1] if self.log else {}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    cfg = OmrTrainConfig.from_dict(json.loads(Path(a.config).read_text()))
    Path(a.out).mkdir(parents=True, exist_ok=True)
    res = Trainer(cfg, Path(a.out)).run()
    if distributed.context().is_main:
        print(json.dumps(res["log"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
