"""Training the transcriber h (issue 5, item 4): supervised on synthetic pairs, supervised on the N real
pairs, and the synth loop, in any combination, with progress bars, atomic checkpoints, resume and seeds.

The synth loop (the LMM idea, DESIGN.md §1): unlabelled real audio x goes through h; h's sigmoid outputs
drive the differentiable roll renderer as soft onset strengths, velocities and damper gates; the
multi-resolution spectral loss between the resynthesis and x itself flows back through the renderer
into h (and, with learn_piano, into the piano's physical parameters, so the synth comes to match the
instrument). Both signals are RMS-normalised first: the recording's gain is unknown and irrelevant.
"""
from __future__ import annotations

import json
import math
import queue
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

from .. import _core as pg
from .. import checkpointing, distributed, optim
from ..data import DataConfig, PRESETS, load_manifest, prepare, with_pair_budget
from .augment import AugmentConfig, Augmenter
from .config import TrainConfig
from .sources import RealSource, Segment, rolls_to_targets
from .synthetic import SyntheticSource, corpus_pool



def ensure_data(cfg: TrainConfig, quiet: bool = False) -> dict:
    """The prepared data set named by cfg.data (preparing it from cfg.data_preset if needed), with the
    pair budget cfg.n_pairs applied."""
    root = Path(cfg.data)
    if not (root / "manifest.json").is_file():
        if cfg.data_preset not in PRESETS:
            raise FileNotFoundError(f"data {root}: no manifest.json, and preset {cfg.data_preset!r} is unknown")
        prepare(PRESETS[cfg.data_preset], root, progress=not quiet)
    return with_pair_budget(load_manifest(root), cfg.n_pairs, _pair_seed(cfg))


def _pair_seed(cfg: TrainConfig) -> Optional[int]:
    return None if cfg.pair_seed < 0 else cfg.pair_seed


def extra_manifests(cfg: TrainConfig, base: dict) -> List[dict]:
    """cfg.extra_data's manifests (pair budget applied), each checked to split the pieces as `base` does:
    a piece held out in one rendering must not be trained on in another."""
    out = []
    for d in cfg.extra_data:
        root = Path(d)
        if not (root / "manifest.json").is_file():
            raise FileNotFoundError(f"extra data {root}: no manifest.json; prepare it with `pianograd data prepare "
                                    f"--preset {cfg.data_preset} --config configs/data/piano_<name>.json --out {root}`")
        m = with_pair_budget(load_manifest(root), cfg.n_pairs, _pair_seed(cfg))
        for key in ("splits", "labelled_train"):
            if m[key] != base[key]:
                raise ValueError(f"extra data {root}: its {key} differ from {cfg.data}'s; prepare it with the "
                                 "same preset and seed so every rendering of a piece stays on one side")
        out.append(m)
    return out


def make_model(cfg: TrainConfig) -> "pg.Transcriber":
    """A new model per cfg.model, or cfg.init's weights. With both, cfg.model overrides the checkpoint's
    config and the weights that still fit are kept: e.g. {"pedal_channels": 16} adds a freshly initialised
    pedal head to a trained model (architecture changes that alter a kept layer's shape are refused)."""
    if cfg.init:
        m = pg.Transcriber.load(cfg.init)
        if not cfg.model:
            return m
        base = json.loads(m.config.to_json())
        merged = {**base, **cfg.model}
        if merged == base:
            return m
        grown = pg.Transcriber(pg.TranscriberConfig.from_json(json.dumps(merged)))
        old = m.state_dict()
        mine = grown.state_dict()
        changed = sorted(k for k in old if k in mine and list(old[k].shape) != list(mine[k].shape))
        if changed:
            raise ValueError(f"init {cfg.init}: model overrides {sorted(cfg.model)} change the shape of "
                             f"trained tensors {changed}; only new layers may be added")
        grown.load_state_dict({k: v for k, v in old.items() if k in mine}, strict=False)
        return grown
    mc = pg.TranscriberConfig(**{"seed": cfg.seed, **cfg.model})
    return pg.Transcriber(mc)


class _Prefetch:
    """Builds batches on a background thread (rendering and file I/O release the GIL) so the training
    step does not wait for data."""

    def __init__(self, make: Callable[[], object], depth: int = 2) -> None:
        self.q: "queue.Queue" = queue.Queue(depth)
        self.make = make
        self.stop = False
        self.err: Optional[BaseException] = None
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self) -> None:
        try:
            while not self.stop:
                self.q.put(self.make())
        except BaseException as e:  # surfaced in get()
            self.err = e
            self.q.put(None)

    def get(self):
        item = self.q.get()
        if item is None and self.err is not None:
            raise self.err
        return item

    def close(self) -> None:
        self.stop = True
        try:
            while True:
                self.q.get_nowait()
        except queue.Empty:
            pass


def _rms_normalise(x: "pg.Tensor") -> "pg.Tensor":
    return x / pg.sqrt(pg.mean(x * x, axis=-1, keepdim=True) + 1e-8)


def synth_loop_loss(model, piano, audio: "pg.Tensor", cfg: TrainConfig,
                    reference: Optional["pg.Tensor"] = None) -> "pg.Tensor":
    """Spectral distance between unlabelled audio [B, N] and its resynthesis through h and the piano."""
    out = model(audio, reference)
    onset = pg.sigmoid(out.onset)
    velocity = pg.sigmoid(out.velocity)
    gate = pg.sigmoid(out.frame)
    unknown = set(cfg.loop_trains) - {"onset", "velocity", "frame"}
    if unknown:
        raise ValueError(f"train config: loop_trains has unknown outputs {sorted(unknown)}")
    onset = onset if "onset" in cfg.loop_trains else onset.detach()
    velocity = velocity if "velocity" in cfg.loop_trains else velocity.detach()
    gate = gate if "frame" in cfg.loop_trains else gate.detach()
    n = audio.shape[-1]
    y = piano.render_roll(onset, velocity, gate, model.frame_rate, n,
                          sample_rate=float(model.config.sample_rate), onset_threshold=cfg.loop_onset_threshold)
    y = pg.slice(y, -1, 0, n)
    return pg.multi_resolution_stft_loss(_rms_normalise(y), _rms_normalise(audio))


class Trainer:
    def __init__(self, cfg: TrainConfig, quiet: bool = False, unlabelled=None) -> None:
        """unlabelled: a source of unlabelled audio for the synth loop (an object with segment(n, False) and
        rng, e.g. pianograd.transcription.adapt.AudioSource) instead of the data set's unlabelled excerpts;
        with it, and neither real pairs nor the corpus pool in use, no prepared data set is needed."""
        if not (cfg.real or cfg.synthetic or cfg.synth_loop):
            raise ValueError("train config: enable at least one of real, synthetic, synth_loop")
        # Data-parallel (pianograd.distributed): each rank draws its own share of every batch from its own
        # seeded streams (rank 0's are a single process's), and the gradients are averaged over ranks.
        self.dp = dp = distributed.context()
        self.cfg, self.quiet = cfg, quiet or not dp.is_main
        threads = dp.threads(cfg.threads)
        if threads:
            pg.set_num_threads(threads)
        pg.manual_seed(cfg.seed if dp.rank == 0 else cfg.seed + 1_000_003 * dp.rank)
        self.rng = dp.rng(cfg.seed)
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        needs_pool = cfg.synthetic and cfg.soup_fraction < 1.0 and cfg.synth_pool_pieces > 0
        self.manifest = dp.main_first(lambda: ensure_data(cfg, self.quiet)) \
            if (cfg.real or needs_pool or unlabelled is None) else None
        self.model = make_model(cfg)
        self.model.train()
        self.piano = pg.Piano(float(self.model.config.sample_rate)) if cfg.synth_loop else None
        self.opt = optim.Adam(self._trainable(), lr=cfg.lr)
        self.piano_opt = optim.Adam(self.piano.parameters(), lr=cfg.piano_lr) \
            if (self.piano is not None and cfg.learn_piano) else None
        self.sched = optim.WarmupCosineLR(cfg.lr, cfg.warmup_steps, max(cfg.steps, cfg.warmup_steps + 1), cfg.min_lr)
        aug = AugmentConfig.from_dict(cfg.augment)
        self.augmenter = Augmenter(aug, float(self.model.config.sample_rate), dp.rng(cfg.seed + 4)) \
            if aug.probability > 0 else None
        if cfg.extra_data and not cfg.real:
            raise ValueError("train config: extra_data adds real pairs, but real is off")
        self.real = RealSource([self.manifest] + extra_manifests(cfg, self.manifest), "train", True, self.model,
                               dp.rng(cfg.seed + 1), self.augmenter) if cfg.real else None
        if self.real is not None and len(self.real) == 0:
            self.real = None  # N = 0: no real pairs
        if unlabelled is not None:
            unlabelled.rng = dp.rng(cfg.seed + 2)
        self.unlabelled = (unlabelled if unlabelled is not None else
                           RealSource(self.manifest, "train", None, self.model, dp.rng(cfg.seed + 2))) \
            if cfg.synth_loop else None
        pool = dp.main_first(lambda: corpus_pool(self.manifest, cfg.synth_pool_pieces, cfg.seed,
                                                 str(Path(cfg.data).parent), self.quiet)) if needs_pool else []
        fitted = (lambda: self.piano) if (self.piano is not None and cfg.learn_piano) else None
        self.synth = SyntheticSource(self.model, dp.rng(cfg.seed + 3), pool, cfg.soup_fraction,
                                     base_piano=fitted, base_fraction=cfg.fitted_piano_fraction) \
            if cfg.synthetic else None
        self.weights = pg.LossWeights(**cfg.loss_weights)
        self.step = 0
        self.log: List[dict] = []
        self._consumed_rng: Optional[Dict[str, dict]] = None
        self._resume()

    def _trainable(self) -> List["pg.Tensor"]:
        """The parameters that learn: all, or those whose names start with one of cfg.trainable."""
        if not self.cfg.trainable:
            return list(self.model.parameters())
        named = self.model.named_parameters()
        chosen = [t for name, t in named if any(name.startswith(p) for p in self.cfg.trainable)]
        if not chosen:
            raise ValueError(f"train config: trainable {self.cfg.trainable} matches no parameter of the model "
                             f"(names: {sorted(n for n, _ in named)})")
        # Frozen parameters stop requiring gradients, so backward does not walk the layers that only they
        # feed (training a head on a frozen trunk: the trunk's backward pass was most of the step).
        keep = {id(t) for t in chosen}
        for _, t in named:
            if id(t) not in keep:
                t.requires_grad = False
        return chosen

    # ---- data -----------------------------------------------------------------------------------
    def _supervised_batch(self):
        cfg = self.cfg
        n = int(round(cfg.segment_s * float(self.model.config.sample_rate)))
        segs: List[Segment] = []
        for _ in range(cfg.batch):
            use_real = self.real is not None and (self.synth is None or self.rng.random() < cfg.real_fraction)
            src = self.real if use_real else self.synth
            seg = src.segment(n, True)
            if not use_real and self.augmenter is not None and self.augmenter.draw():
                seg.audio = self.augmenter(seg.audio)  # its own loudness reference then describes it
            segs.append(seg)
        return (pg.from_numpy(np.stack([s.audio for s in segs])), rolls_to_targets([s.rolls for s in segs]),
                self._references(segs))

    def _loop_batch(self):
        n = int(round(self.cfg.loop_segment_s * float(self.model.config.sample_rate)))
        segs = [self.unlabelled.segment(n, False) for _ in range(self.cfg.loop_batch)]
        return pg.from_numpy(np.stack([s.audio for s in segs])), self._references(segs)

    def _references(self, segs: List[Segment]) -> Optional["pg.Tensor"]:
        """Each segment's piece loudness reference [B] for a piece_loudness model (a segment without a piece,
        e.g. a synthetic clip, is its own piece), else None (each segment's own peak)."""
        if not self.model.config.piece_loudness:
            return None
        sr = float(self.model.config.sample_rate)
        refs = [s.reference if s.reference is not None else self.model.loudness_reference(s.audio, sr) for s in segs]
        return pg.from_numpy(np.asarray(refs, dtype=np.float32))

    def _data_rngs(self) -> Dict[str, np.random.Generator]:
        """Every generator the batches draw from (the trainer's and each source's)."""
        rngs = {"rng": self.rng}
        for name in ("real", "unlabelled", "synth", "augmenter"):
            src = getattr(self, name)
            if src is not None:
                rngs[name] = src.rng
        return rngs

    def _make(self):
        sup = self._supervised_batch() if (self.real is not None or self.synth is not None) else None
        loop = self._loop_batch() if self.unlabelled is not None else None
        # The generators' states right after this batch: the prefetch thread runs batches ahead of the
        # step, so a checkpoint saves the states that follow the last batch *consumed* (exact resume).
        return sup, loop, {k: g.bit_generator.state for k, g in self._data_rngs().items()}

    # ---- checkpoints ----------------------------------------------------------------------------
    def _save(self, final: bool = False) -> None:
        # one unit: every file and the state switched in together (pianograd.checkpointing)
        writers = {"model.safetensors": self.model.save,
                   "optim.safetensors": lambda path: pg.save_safetensors(path, self.opt.state_dict())}
        if self.piano is not None:
            writers["piano.safetensors"] = self.piano.save
            if self.piano_opt is not None:
                writers["piano_optim.safetensors"] = lambda path: pg.save_safetensors(path, self.piano_opt.state_dict())
        rng_states = self._consumed_rng or {k: g.bit_generator.state for k, g in self._data_rngs().items()}
        # Every rank's generators (a collective: all ranks come here), so a resume with as many ranks is exact.
        by_rank = self.dp.gather_json(rng_states)
        if not self.dp.is_main:
            return
        state = {"step": self.step, "config": self.cfg.to_dict(), "rng_states": rng_states}
        if self.dp.size > 1:
            state["rng_states_by_rank"] = by_rank
        checkpointing.save(self.out, self.step, writers, state)
        if final:
            self.model.save(str(self.out / "model.safetensors"))
            if self.piano is not None and self.cfg.learn_piano:
                self.piano.save(str(self.out / "piano.safetensors"))

    def _resume(self) -> None:
        found = checkpointing.resume(self.out, self.cfg.to_dict())
        if found is None:
            return
        ck, state, self.log = found
        self.model = pg.Transcriber.load(str(ck / "model.safetensors"))
        self.model.train()
        self.opt = optim.Adam(self._trainable(), lr=self.cfg.lr)
        self.opt.load_state_dict(pg.load_safetensors(str(ck / "optim.safetensors")))
        if self.piano is not None and (ck / "piano.safetensors").is_file():
            self.piano = pg.Piano.load(str(ck / "piano.safetensors"))
            if self.piano_opt is not None:
                self.piano_opt = optim.Adam(self.piano.parameters(), lr=self.cfg.piano_lr)
                self.piano_opt.load_state_dict(pg.load_safetensors(str(ck / "piano_optim.safetensors")))
        if "rng_states" in state:
            # Rank r resumes its own streams when the checkpoint has them; a rank the saving job did not
            # have keeps its fresh ones (a resume on more processes draws new data for the new ranks).
            by_rank = state.get("rng_states_by_rank") or [state["rng_states"]]
            mine = by_rank[self.dp.rank] if self.dp.rank < len(by_rank) else {}
            for k, g in self._data_rngs().items():
                if k in mine:
                    g.bit_generator.state = mine[k]
        else:  # a checkpoint from before exact resume
            self.rng.bit_generator.state = state["rng"]
        self.step = int(state["step"])

    # ---- the loop -------------------------------------------------------------------------------
    def run(self, on_log: Optional[Callable[[dict], None]] = None, stop_at: Optional[int] = None) -> Dict[str, object]:
        """Trains until cfg.steps (or the time budget); stop_at ends early after that step, leaving the run
        resumable (as an interruption would; the last periodic checkpoint is what a resume finds)."""
        cfg = self.cfg
        t0 = time.perf_counter()
        pre = _Prefetch(self._make)
        bar = None
        if not self.quiet:
            from ..progress_report import progress_bar
            bar = progress_bar(total=cfg.steps, initial=self.step, desc="train", unit="step")
        params = self._trainable()
        dp = self.dp
        dp.attach(params + (list(self.piano.parameters()) if self.piano_opt is not None else []))
        acc: Dict[str, float] = {}
        try:
            while self.step < cfg.steps:
                if cfg.time_budget_s and dp.any(time.perf_counter() - t0 > cfg.time_budget_s):
                    break
                if stop_at is not None and self.step >= stop_at:
                    return {"steps": self.step, "interrupted": True}
                sup, loop, self._consumed_rng = pre.get()
                self.sched.apply(self.opt)
                self.opt.zero_grad()
                if self.piano_opt is not None:
                    self.piano_opt.zero_grad()
                total = None
                parts: Dict[str, float] = {}
                if sup is not None:
                    audio, targets, ref = sup
                    lo = pg.transcription_loss(self.model(audio, ref), targets, self.weights)
                    total = lo.total
                    for k in ("onset", "frame", "offset", "velocity", "pedal"):
                        parts[k] = getattr(lo, k).item()
                if loop is not None:
                    ll = synth_loop_loss(self.model, self.piano, loop[0], cfg, loop[1])
                    parts["loop"] = ll.item()
                    ll = ll * cfg.loop_weight
                    total = ll if total is None else total + ll
                total.backward()
                dp.sync()
                gn = optim.clip_grad_norm(params, cfg.clip_norm)
                if not math.isfinite(gn):
                    raise FloatingPointError(f"step {self.step}: gradient norm is {gn}")
                self.opt.step()
                if self.piano_opt is not None:
                    self.piano_opt.step()
                self.step += 1
                parts["total"] = total.item()
                for k, v in parts.items():
                    acc[k] = acc.get(k, 0.0) + v
                acc["_n"] = acc.get("_n", 0.0) + 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{parts['total']:.4f}")
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    keys = sorted(k for k in acc if k != "_n")
                    means = dp.mean([acc[k] / acc["_n"] for k in keys])  # the same keys on every rank
                    rec = {"step": self.step, "seconds": round(time.perf_counter() - t0, 2), **dict(zip(keys, means))}
                    acc = {}
                    self.log.append(rec)
                    if dp.is_main:
                        with open(self.out / "log.jsonl", "a") as f:
                            f.write(json.dumps(rec) + "\n")
                    if on_log:
                        on_log(rec)
                if self.step % cfg.checkpoint_every == 0:
                    self._save()
        finally:
            pre.close()
            if bar is not None:
                bar.close()
        self._save(final=True)
        self.model.eval()
        return {"steps": self.step, "seconds": time.perf_counter() - t0, "model": str(self.out / "model.safetensors"),
                "parameters": int(self.model.parameter_count()), "log": self.log}


def train(cfg: TrainConfig, quiet: bool = False) -> Dict[str, object]:
    """Trains per cfg (resuming from cfg.out/checkpoint when present); returns a summary."""
    return Trainer(cfg, quiet).run()
