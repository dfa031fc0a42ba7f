"""Optical music recognition (V -> M): score images to notes in beats and performances.

``pg.omr(image)`` reads a page (the package itself is callable: it is pianograd.omr.recognize.recognize);
the token encoding is pianograd.omr.tokens, the model pianograd.omr.model, its training
pianograd.omr.train, the data pianograd.omr.data, the scores pianograd.omr.evaluate.
"""
import sys as _sys
import types as _types


class _CallableModule(_types.ModuleType):
    def __call__(self, image, model=None, beam: int = 0, prior=None, prior_weight: float = 0.0):
        """Reads printed music: a page image (path to PNG/JPEG/PDF, or an array) -> OmrResult with
        ``notes`` (pitch, onset_beats, duration_beats, staff, system) and ``to_performance(tempo_bpm)``.
        ``prior(prefix_ids, next_id) -> log-prob`` is a token-level prior for beam decoding (beam > 1)."""
        from .recognize import recognize

        return recognize(image, model=model, beam=beam, prior=prior, prior_weight=prior_weight)


# `pg.omr` is both this package and the function users call; a module subclass makes that one name.
_sys.modules[__name__].__class__ = _CallableModule
