"""Which music21-corpus pieces become piano performances, grouped into works for leak-free splits.

The core corpus (music21 10.x) holds few genuine piano pieces, so the catalogue has four categories,
all playable on a keyboard once flattened into one stream of notes:

* keyboard - piano/harpsichord originals: Bach WTC I prelude BWV 846, Mozart K. 545/i (exposition),
  Joplin Maple Leaf Rag, Chopin mazurka op. 6/2, C. P. E. Bach H. 186, Clara Schumann polonaises
  op. 1/1-4, Schoenberg op. 19/2 and 19/6, a piano arrangement of Verdi's "La donna è mobile".
* song     - voice (or choir) with piano, played as the piano plus the tune: Schubert "Der Lindenbaum",
  Schumann Dichterliebe no. 2, Handel "Lascia ch'io pianga", Liliuokalani "Aloha Oe", Amy Beach
  "Prayer of a Tired Child", Clara Schumann piano trio op. 17/iii.
* chorale  - Bach's four-part chorale harmonisations (about 370 files), the classic keyboard
  reduction exercise, plus J. R. Johnson's "Lift Every Voice".
* quartet  - string-quartet (and trio-sonata) movements as piano reductions: Mozart K. 80, 155, 156,
  458; Haydn op. 1/1, op. 74/1; Beethoven op. 18/1, op. 59/1-3; Schumann op. 41/1; Corelli op. 3/1.

A *group* (work) is the unit of the train/valid/test split: movements of one quartet, and alternative
versions of one chorale (bwv248.9-1 and bwv248.9-s, bwv69.6 and bwv69.6-a), always share a split.
Humdrum (.krn) duplicates of MusicXML files are dropped; single files holding whole quartets (20 s+
to parse) are left out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Sequence, Tuple

CATEGORIES = ("keyboard", "song", "chorale", "quartet")

_KEYBOARD = [
    "bach/bwv846.mxl", "mozart/k545/movement1_exposition.mxl", "joplin/maple_leaf_rag.mxl",
    "chopin/mazurka06-2.krn", "cpebach/h186.mxl", "schumann_clara/polonaise_op1n1.mxl",
    "schumann_clara/polonaise_op1n2.mxl", "schumann_clara/polonaise_op1n3.mxl",
    "schumann_clara/polonaise_op1n4.mxl", "schoenberg/opus19/movement2.mxl",
    "schoenberg/opus19/movement6.mxl", "verdi/laDonnaEMobile.mxl",
]
_SONG = [
    "schubert/Lindenbaum.xml", "schumann_robert/dichterliebe_no2.xml",
    "handel/rinaldo/Lascia_chio_pianga.mxl", "liliuokalani/aloha_oe.mxl",
    "beach/prayer_of_a_tired_child.musicxml", "schumann_clara/opus17/movement3.xml",
]
_QUARTET_WORKS = ["mozart/k80", "mozart/k155", "mozart/k156", "mozart/k458", "haydn/opus1no1",
                  "haydn/opus74no1", "beethoven/opus18no1", "beethoven/opus59no1", "beethoven/opus59no2",
                  "beethoven/opus59no3", "schumann_robert/opus41no1"]
_EXTRA_QUARTET = ["corelli/opus3no1/1grave.xml"]
_EXTRA_CHORALE = ["johnson_j_r/lift_every_voice.mxl"]
_CHORALE_RE = re.compile(r"^bach/bwv(\d+(?:\.\d+)?)(-[0-9a-z]+)?\.(mxl|xml)$")


@dataclass(frozen=True)
class Piece:
    id: str        # corpus-relative path, e.g. "bach/bwv269.mxl"
    category: str  # one of CATEGORIES
    group: str     # work id; the split unit

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "_", self.id.rsplit(".", 1)[0]).strip("_")


def _corpus_paths() -> List[str]:
    from music21 import corpus

    out = []
    for p in corpus.getCorePaths():
        s = str(p).replace("\\", "/")
        if "/corpus/" in s:
            out.append(s.split("/corpus/", 1)[1])
    return sorted(out)


@lru_cache(maxsize=1)
def catalog() -> Tuple[Piece, ...]:
    """All pieces, sorted by id. Only names the music21 install actually has are listed."""
    have = set(_corpus_paths())
    pieces: Dict[str, Piece] = {}

    def add(pid: str, cat: str, group: str) -> None:
        if pid in have:
            pieces[pid] = Piece(pid, cat, group)

    for pid in _KEYBOARD:
        add(pid, "keyboard", pid.rsplit(".", 1)[0])
    for pid in _SONG:
        add(pid, "song", pid.rsplit(".", 1)[0])
    for pid in _EXTRA_CHORALE:
        add(pid, "chorale", pid.rsplit(".", 1)[0])
    for pid in _EXTRA_QUARTET:
        add(pid, "quartet", pid.rsplit("/", 1)[0])
    for work in _QUARTET_WORKS:
        for pid in have:
            if pid.startswith(work + "/movement") and pid.endswith(".mxl"):
                add(pid, "quartet", work)
    for pid in have:
        m = _CHORALE_RE.match(pid)
        if m and pid != "bach/bwv846.mxl":
            add(pid, "chorale", "bach/bwv" + m.group(1))
    return tuple(sorted(pieces.values(), key=lambda p: p.id))


def by_category(pieces: Sequence[Piece]) -> Dict[str, List[Piece]]:
    out: Dict[str, List[Piece]] = {c: [] for c in CATEGORIES}
    for p in pieces:
        out[p.category].append(p)
    return out


def find_piece(pid: str) -> Piece:
    for p in catalog():
        if p.id == pid:
            return p
    raise KeyError(f"piece {pid!r} is not in the catalogue (see `python -m pianograd.data list`)")
