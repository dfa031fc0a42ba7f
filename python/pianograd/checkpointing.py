"""Training checkpoints as one unit (issue 17, item 5), for every trainer (transcription, motion LM).

A checkpoint is a folder of files (model, optimizer, ...) plus manifest.json: the step, the trainer's
state (config, RNG states) and the SHA-256 of every file. It is written into a fresh folder
`<out>/checkpoint.<step>.<pid>` (each file fsynced, then the folder), and switched in by replacing the
symlink `<out>/checkpoint` with one atomic rename. A kill at any moment leaves either the old checkpoint
or the new one, never a mix. `load` checks every file against the manifest, so a set that was changed by
hand, or a copy that lost a file, is refused with an error naming the file. Folders that a killed save
left behind, and the old checkpoint once replaced, are removed at the next save.

A plain `<out>/checkpoint/` folder with a state.json, from before this scheme, still resumes.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple, Union

PathLike = Union[str, Path]
LINK = "checkpoint"
MANIFEST = "manifest.json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be trusted: a file missing or not the one its manifest names."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(out: PathLike, step: int, writers: Dict[str, Callable[[str], None]], state: dict) -> Path:
    """Writes a checkpoint: writers maps each file name to a function writing that file at the given path;
    state is the trainer's JSON state. Returns the folder the `checkpoint` link now points to."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    folder = out / f"{LINK}.{step}.{os.getpid()}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    hashes = {}
    for name, write in writers.items():
        write(str(folder / name))
        _fsync(folder / name)
        hashes[name] = _sha256(folder / name)
    manifest = {"step": int(step), "files": hashes, "state": state}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    _fsync(folder / MANIFEST)
    _fsync(folder)
    link = out / LINK
    if link.is_dir() and not link.is_symlink():  # a checkpoint folder of the old scheme: set it aside
        os.replace(link, out / f"{LINK}.legacy.{os.getpid()}")
    tmp = out / f".{LINK}.link.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(folder.name, tmp)
    os.replace(tmp, link)  # the switch: atomic on POSIX
    _fsync(out)
    _clean(out, keep=folder.name)
    return folder


def _clean(out: Path, keep: str) -> None:
    """Removes every checkpoint folder but `keep`, and links a killed save left behind."""
    for p in out.iterdir():
        if p.name.startswith(f"{LINK}.") and p.name != keep and p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        elif p.name.startswith(f".{LINK}.link."):
            p.unlink(missing_ok=True)


def load(out: PathLike) -> Optional[Tuple[Path, dict]]:
    """(folder, manifest) of the checkpoint in out, every file verified; None when there is none.
    Raises CheckpointError for a missing or changed file."""
    out = Path(out)
    link = out / LINK
    if not link.exists():
        if link.is_symlink():
            raise CheckpointError(f"{link}: the link points to a missing folder ({os.readlink(link)})")
        return None
    folder = link.resolve()
    mf = folder / MANIFEST
    if not mf.is_file():
        legacy = folder / "state.json"
        if legacy.is_file():  # the old scheme: files and state.json, no hashes to check
            state = json.loads(legacy.read_text())
            return folder, {"step": int(state["step"]), "files": {}, "state": state}
        raise CheckpointError(f"{folder}: no {MANIFEST} (an incomplete checkpoint)")
    try:
        manifest = json.loads(mf.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{mf}: not valid JSON ({e})") from None
    for name, want in manifest["files"].items():
        f = folder / name
        if not f.is_file():
            raise CheckpointError(f"{folder}: {name} is missing (the checkpoint is incomplete)")
        if _sha256(f) != want:
            raise CheckpointError(f"{folder}: {name} is not the file of step {manifest['step']} that the manifest "
                                  "names (a mixed or altered checkpoint)")
    return folder, manifest


# A resumed run may get a new time budget or thread count; anything else must match. The time budget
# changes nothing that is computed; the thread count can change the last bits (work split across threads
# sums in another order, ~1e-7 relative), so a bit-exact resume keeps the threads (README, "Reliability").
FREE_KEYS = ("time_budget_s", "threads")


def resume(out: PathLike, config: dict) -> Optional[Tuple[Path, dict, list]]:
    """(folder, trainer state, log records up to its step) of the checkpoint in out, for a run of
    `config`; None when there is none. ValueError when the checkpoint is of another configuration."""
    found = load(out)
    if found is None:
        return None
    folder, manifest = found
    state = manifest["state"]
    if {k: v for k, v in state["config"].items() if k not in FREE_KEYS} != \
            {k: v for k, v in config.items() if k not in FREE_KEYS}:
        raise ValueError(f"{out}: a checkpoint of a different configuration is there; use another --out or delete it")
    logf = Path(out) / "log.jsonl"
    log = [json.loads(line) for line in logf.read_text().splitlines() if line.strip()] if logf.is_file() else []
    return folder, state, [r for r in log if r["step"] <= int(state["step"])]
