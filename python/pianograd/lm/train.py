"""Training the motion language model and its baselines (issue 14, item 6): random crops of tokenised,
augmented performances (transposition, tempo and velocity scaling drawn per crop), next-token
cross-entropy, AdamW with warm-up and cosine decay, gradient clipping, periodic validation NLL,
atomic checkpoints, resume, seeds.

    arch transformer  pg.MotionLM (config.model overrides pg.MotionLMConfig)
    arch gru          pg.MotionGRU sized to the transformer's parameter count (same vocabulary, width)
    arch ngram        pg.NGramLM (config.model: {"order": 5}), fitted on every transposition of the data
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

from .. import _core as pg
from .. import checkpointing, distributed, optim
from ..data.cache import atomic_write_json
from .config import LMConfig
from .data import fingerprint, performances



def transformer_config(cfg: LMConfig, tok: "pg.MotionTokenizer") -> "pg.MotionLMConfig":
    over = {k: v for k, v in cfg.model.items() if k != "order"}
    return pg.MotionLMConfig(**{"vocab_size": tok.vocab_size, "seed": cfg.seed, **over})


def make_model(cfg: LMConfig, tok: "pg.MotionTokenizer"):
    lm = transformer_config(cfg, tok)
    if cfg.arch == "transformer":
        return pg.MotionLM(lm)
    gc = pg.MotionGRUConfig.matching(lm, pg.MotionLM(lm).parameter_count())
    return pg.MotionGRU(gc)


def load_any(path: str):
    """A MotionLM, MotionGRU or NGramLM checkpoint, whichever the file is."""
    p = str(path)
    if p.endswith(".ngram"):
        return pg.NGramLM.load(p)
    try:
        return pg.MotionLM.load(p)
    except ValueError:  # not a transformer checkpoint: the GRU's (or a clear error naming the file)
        return pg.MotionGRU.load(p)


class Crops:
    """Random training crops [context + 1 tokens] from tokenised, augmented windows of performances."""

    def __init__(self, perfs: List["pg.Performance"], tok: "pg.MotionTokenizer", cfg: LMConfig, length: int,
                 rng: np.random.Generator) -> None:
        self.perfs, self.tok, self.cfg, self.length, self.rng = perfs, tok, cfg, length, rng
        self.durations = np.array([max(p.duration, 1e-3) for p in perfs])
        # Tokens per second of each performance: the window that yields `length` tokens.
        self.rate = np.array([max(len(tok.encode(p)), 1) / d for p, d in zip(perfs, self.durations)])
        self.weights = self.durations / self.durations.sum()

    def draw(self) -> tuple:
        """A crop's random choices (cheap): which performance, where, and the augmentation."""
        cfg, r = self.cfg, self.rng
        i = int(r.choice(len(self.perfs), p=self.weights))
        dur = self.durations[i]
        span = 1.5 * self.length / self.rate[i] + 1.0
        # A tenth of the crops open the piece (BOS first), so the model learns how performances start.
        start = 0.0 if (r.random() < 0.1 or dur <= span) else float(r.uniform(0.0, dur - span))
        return (i, start, span, int(r.integers(-cfg.transpose, cfg.transpose + 1)),
                float(r.uniform(1 - cfg.tempo, 1 + cfg.tempo)), float(r.uniform(1 - cfg.velocity, 1 + cfg.velocity)))

    def make(self, choice: tuple) -> np.ndarray:
        """The tokens of a drawn crop (the costly part: window, augmentation, tokenisation)."""
        i, start, span, transpose, tempo, velocity = choice
        p, dur = self.perfs[i], self.durations[i]
        w = p if (start == 0.0 and dur <= span) else p.window(start, min(dur, start + span), 0.0)
        w = w.transformed(transpose, tempo, velocity)
        t = self.tok.encode(w, bos=start == 0.0)
        out = np.zeros(self.length + 1, dtype=np.int64)  # PAD beyond the end: ignored by the loss
        out[: min(len(t), self.length + 1)] = t[: self.length + 1]
        return out

    def crop(self) -> np.ndarray:
        return self.make(self.draw())

    def batch(self, n: int, part: slice = slice(None)) -> np.ndarray:
        """n crops drawn in order; only those in `part` are built (a data-parallel rank's share of a
        global batch, so that K ranks together see exactly what one process with batch n would)."""
        choices = [self.draw() for _ in range(n)]
        return np.stack([self.make(c) for c in choices[part]])


def fit_ngram(cfg: LMConfig, tok: "pg.MotionTokenizer", train: List["pg.Performance"]) -> "pg.NGramLM":
    """The n-gram on every transposition within cfg.transpose of every training performance."""
    seqs = [tok.encode(p.transformed(k), bos=True) for p in train for k in range(-cfg.transpose, cfg.transpose + 1)]
    lm = pg.NGramLM(tok.vocab_size, int(cfg.model.get("order", 5)))
    lm.fit([s for s in seqs if len(s) > 1])
    return lm


def validation_nll(model, tok: "pg.MotionTokenizer", perfs: List["pg.Performance"], dp=None) -> float:
    """Mean NLL per event; with a DataParallel dp, each rank scores its share and the sums are combined."""
    total, count = 0.0, 0
    mine = perfs[dp.rank::dp.size] if dp is not None else perfs
    for p in mine:
        t = tok.encode(p, bos=True)
        if len(t) < 2:
            continue
        nll = model.sequence_nll(t) if isinstance(model, pg.NGramLM) else float(pg.token_nll(model, t).sum())
        total += nll
        count += len(t) - 1
    if dp is not None:
        total, count = dp.sum([total, count])
    return total / max(count, 1)


class LMTrainer:
    def __init__(self, cfg: LMConfig, quiet: bool = False, data=None) -> None:
        self.dp = distributed.context()
        self.cfg, self.quiet = cfg, quiet or not self.dp.is_main
        threads = self.dp.threads(cfg.threads)
        if threads:
            pg.set_num_threads(threads)
        pg.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.tok = pg.MotionTokenizer()
        self.perfs, self.names = data if data is not None else \
            self.dp.main_first(lambda: performances(cfg, progress=not self.quiet))
        self.step = 0
        self.log: List[dict] = []
        if cfg.arch == "ngram":
            self.model = None
            return
        self.model = make_model(cfg, self.tok)
        self.model.train()
        self.context = transformer_config(cfg, self.tok).context
        self.opt = optim.AdamW(list(self.model.parameters()), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.sched = optim.WarmupCosineLR(cfg.lr, cfg.warmup_steps, max(cfg.steps, cfg.warmup_steps + 1), cfg.min_lr)
        self.crops = Crops(self.perfs["train"], self.tok, cfg, self.context, np.random.default_rng(cfg.seed + 1))
        self.valid = self.perfs["valid"][: cfg.eval_pieces]
        self._resume()

    # ---- checkpoints ----------------------------------------------------------------------------
    def _model_file(self) -> str:
        return "model.safetensors"

    def _save(self, final: bool = False) -> None:
        if not self.dp.is_main:  # every rank holds the same weights and draws from the same generators
            return
        # one unit: model, optimizer and state switched in together (pianograd.checkpointing)
        checkpointing.save(self.out, self.step, {
            self._model_file(): self.model.save,
            "optim.safetensors": lambda path: pg.save_safetensors(path, self.opt.state_dict()),
        }, {"step": self.step, "config": self.cfg.to_dict(), "rng": self.rng.bit_generator.state,
            "crop_rng": self.crops.rng.bit_generator.state,
            "dropout_calls": int(getattr(self.model, "dropout_calls", 0))})
        if final:
            self.model.save(str(self.out / self._model_file()))

    def _resume(self) -> None:
        found = checkpointing.resume(self.out, self.cfg.to_dict())
        if found is None:
            return
        ck, state, self.log = found
        self.model = load_any(str(ck / self._model_file()))
        self.model.train()
        self.opt = optim.AdamW(list(self.model.parameters()), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        self.opt.load_state_dict(pg.load_safetensors(str(ck / "optim.safetensors")))
        self.rng.bit_generator.state = state["rng"]
        self.crops.rng.bit_generator.state = state["crop_rng"]
        if "dropout_calls" in state:  # the same dropout masks as an uninterrupted run
            self.model.dropout_calls = int(state["dropout_calls"])
        self.step = int(state["step"])

    def _record(self, rec: dict, on_log) -> None:
        self.log.append(rec)
        if not self.dp.is_main:
            return
        with open(self.out / "log.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        if on_log:
            on_log(rec)

    # ---- the loop -------------------------------------------------------------------------------
    def run(self, on_log: Optional[Callable[[dict], None]] = None, stop_at: Optional[int] = None) -> Dict[str, object]:
        """Trains until cfg.steps (or the time budget); stop_at ends early after that step without saving,
        as a kill would (the last periodic checkpoint is what a resume finds). Resuming is exact: the same
        parameters, bit for bit, as a run that was never stopped (same seed and threads)."""
        cfg = self.cfg
        t0 = time.perf_counter()
        if cfg.arch == "ngram":
            lm = fit_ngram(cfg, self.tok, self.perfs["train"])
            if self.dp.is_main:
                lm.save(str(self.out / "model.ngram"))
            v = validation_nll(lm, self.tok, self.perfs["valid"][: cfg.eval_pieces], self.dp)
            self._record({"step": 0, "seconds": round(time.perf_counter() - t0, 2), "valid_nll": v}, on_log)
            return {"steps": 0, "seconds": time.perf_counter() - t0, "model": str(self.out / "model.ngram"),
                    "parameters": lm.num_ngrams, "valid_nll": v, "log": self.log}
        bar = None
        if not self.quiet:
            from ..progress_report import progress_bar
            bar = progress_bar(total=cfg.steps, initial=self.step, desc=f"train lm ({cfg.arch})", unit="step")
        params = list(self.model.parameters())
        self.dp.attach(params)
        # Dropout masks come from (config seed, call count): rank r counts from r x 2^40 so that the ranks
        # drop different units of their different crops (rank 0, and checkpoints, keep the plain count).
        rank_offset = self.dp.rank << 40 if hasattr(self.model, "dropout_calls") else 0
        if rank_offset:
            self.model.dropout_calls = int(self.model.dropout_calls) + rank_offset
        acc, n_acc = 0.0, 0
        dp = self.dp
        try:
            while self.step < cfg.steps:
                if cfg.time_budget_s and dp.any(time.perf_counter() - t0 > cfg.time_budget_s):
                    break
                if stop_at is not None and self.step >= stop_at:
                    return {"steps": self.step, "interrupted": True}
                # The global batch is K x cfg.batch crops; this rank builds and trains on its share.
                crops = self.crops.batch(cfg.batch * dp.size, dp.share(cfg.batch * dp.size))
                x = pg.from_numpy(crops)
                self.sched.apply(self.opt)
                self.opt.zero_grad()
                loss = self.model.loss(x)
                if dp.size > 1:
                    # The loss is a mean over this rank's real (non-PAD) targets; weighting it by this rank's
                    # share of the global batch's targets makes the mean over ranks that sync() takes the
                    # gradient of the global batch's mean, exactly as one process would compute it.
                    mine = float(np.count_nonzero(crops[:, 1:] != self.tok.PAD))
                    (everyone,) = dp.sum([mine])
                    (loss * (mine * dp.size / max(everyone, 1.0))).backward()
                else:
                    loss.backward()
                dp.sync()
                gn = optim.clip_grad_norm(params, cfg.clip_norm)
                if not math.isfinite(gn):
                    raise FloatingPointError(f"step {self.step}: gradient norm is {gn}")
                self.opt.step()
                self.step += 1
                acc += loss.item()
                n_acc += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{acc / n_acc:.3f}")
                last = self.step == cfg.steps
                if self.step % cfg.log_every == 0 or last:
                    rec = {"step": self.step, "seconds": round(time.perf_counter() - t0, 2),
                           "loss": dp.mean([acc / n_acc])[0], "lr": self.sched(self.step)}
                    if self.step % cfg.eval_every == 0 or last:
                        rec["valid_nll"] = validation_nll(self.model, self.tok, self.valid, dp)
                        self.model.train()
                    acc, n_acc = 0.0, 0
                    self._record(rec, on_log)
                if self.step % cfg.checkpoint_every == 0:
                    self._save()
        finally:
            if bar is not None:
                bar.close()
        self._save(final=True)
        self.model.eval()
        return {"steps": self.step, "seconds": time.perf_counter() - t0, "model": str(self.out / self._model_file()),
                "parameters": int(self.model.parameter_count()), "data": fingerprint(self.perfs["train"]),
                "log": self.log}


def train(cfg: LMConfig, quiet: bool = False, data=None) -> Dict[str, object]:
    """Trains per cfg (resuming from cfg.out/checkpoint when present); returns a summary."""
    return LMTrainer(cfg, quiet, data).run()
