"""Transcription A→M (issue 5): evaluation reports for now; training and inference modules live beside."""
from .report import write_eval_report

__all__ = ["write_eval_report"]
