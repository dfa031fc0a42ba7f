"""Content-hash keys and atomic file writes for the data cache (data/cache/, git-ignored).

Every artefact's file name carries a hash of everything that determines its bytes (the corpus file's
contents, the generation config, the seed, the code version, the renderer and SoundFont), so a second
`prepare` with the same inputs finds every file and does no work, and a changed input never reuses a
stale file. Writes go to a temporary file in the same folder and are renamed into place, so an
interrupted run never leaves a truncated artefact under a valid name.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Union

PathLike = Union[str, Path]

# Bump when the generation code changes what it writes for the same inputs.
CODE_VERSION = "data-v1"


def stable_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def hash_obj(*parts: Any) -> str:
    """sha256 over the canonical JSON of the parts (hex, 64 chars)."""
    return hashlib.sha256(stable_json([CODE_VERSION, *parts]).encode()).hexdigest()


def hash_file(path: PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


_big_file_ids: dict = {}


def hash_big_file(path: PathLike, edge: int = 4 << 20) -> str:
    """Identity of a large read-only file (the 148 MB SoundFont): sha256 of its size and its first and
    last `edge` bytes. Memoised per process; a different SoundFont release changes all three."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _big_file_ids:
        h = hashlib.sha256(str(st.st_size).encode())
        with open(p, "rb") as f:
            h.update(f.read(edge))
            if st.st_size > edge:
                f.seek(max(edge, st.st_size - edge))
                h.update(f.read(edge))
        _big_file_ids[key] = h.hexdigest()
    return _big_file_ids[key]


def atomic_write_with(path: PathLike, writer: Callable[[str], Any]) -> None:
    """Calls writer(tmp_path) and renames tmp_path to path (same folder, so the rename is atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        writer(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: PathLike, text: str) -> None:
    atomic_write_with(path, lambda tmp: Path(tmp).write_text(text))


def atomic_write_json(path: PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=False) + "\n")
