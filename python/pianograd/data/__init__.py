"""Data for transcription (issue 5, item 1): corpus scores -> humanised piano performances -> MIDI ->
"real" audio from an independent sampled piano (FluidSynth), split by piece, with a pair budget.

Python (music21, numpy, soundfile, tqdm, the `fluidsynth` program) over the engine's one Performance
type (pg.Performance, pg.Note: synth/performance.h, bound in pianograd._core), whose quantized(),
window(), to_dict()/save_json() and to_midi() the pipeline uses. Entry points:

    python -m pianograd.data prepare --out data/cache/demo --pieces 12 --seed 0 --n-pairs 4
    from pianograd.data import PRESETS, prepare, load_manifest, excerpts, render_note
"""
from .catalog import CATEGORIES, Piece, catalog
from .dataset import Excerpt, excerpts, load_audio, load_manifest, with_pair_budget
from .._core import MAX_KEY, MIN_KEY, Note, Performance
from .humanize import HumanizeConfig, perform
from .prepare import PRESETS, DataConfig, prepare
from .render import ClippingError, FluidSynthMissing, RenderConfig, render_note, render_performance
from .score import ScoreData, load_score
from .splits import labelled_subset, select_pieces, split_of

__all__ = [
    "CATEGORIES", "Piece", "catalog", "Excerpt", "excerpts", "load_audio", "load_manifest",
    "with_pair_budget", "HumanizeConfig", "perform", "MAX_KEY", "MIN_KEY", "Note", "Performance",
    "PRESETS", "DataConfig", "prepare", "ClippingError", "FluidSynthMissing",
    "RenderConfig", "render_note", "render_performance", "ScoreData", "load_score", "labelled_subset",
    "select_pieces", "split_of",
]
