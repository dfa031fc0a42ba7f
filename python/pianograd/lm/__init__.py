"""The motion language model LM^M (issue 14): performances as tokens (pg.MotionTokenizer), a small
Transformer on the engine (pg.MotionLM) with its baselines (pg.MotionGRU, pg.NGramLM), training,
evaluation and generation.

    pianograd train lm --config configs/lm/shipped.json        trains (resumes from <out>/checkpoint)
    pianograd lm eval [--model M] --midi DIR [--json OUT]      NLL/event, bits/s, per field; with baselines
    pianograd generate [--model M] [--prompt in.mid] out.mid   continues a prompt, renders with --wav
"""
from .config import LMConfig
from .evaluate import DEFAULT_MODEL, evaluate, load_models, score, table
from .generate import generate, render

__all__ = ["LMConfig", "DEFAULT_MODEL", "evaluate", "load_models", "score", "table", "generate", "render"]
