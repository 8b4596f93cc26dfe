"""What a run logs: ``metrics.jsonl`` (one JSON object per logging step), ``eval.jsonl`` (one per
evaluation, with its settings) and TensorBoard events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


class RunLogger:
    """Appends scalars to ``metrics.jsonl`` and, optionally, to TensorBoard under ``tb/``.

    On resume from step ``s``, records after ``s`` (written before the interruption) are dropped from
    both, so the logs of a resumed run read as if it had never stopped.
    """

    def __init__(self, run_dir: Path, tensorboard: bool, resume_step: int | None = None) -> None:
        self.path = run_dir / "metrics.jsonl"
        self.eval_path = run_dir / "eval.jsonl"
        for path in (self.path, self.eval_path):
            if resume_step is not None and path.exists():
                kept = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= resume_step]
                path.write_text("".join(line + "\n" for line in kept))
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / "tb"), purge_step=resume_step)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """Log one record of scalars at ``step``."""
        with self.path.open("a") as handle:
            handle.write(json.dumps({"step": step, **values}) + "\n")
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(key, value, step)

    def evaluation(self, step: int, result: dict[str, Any]) -> None:
        """Append an evaluation (numbers and settings) to ``eval.jsonl``; its numbers go to TensorBoard
        under ``eval/``."""
        with self.eval_path.open("a") as handle:
            handle.write(json.dumps({"step": step, **result}) + "\n")
        if self.writer is not None:
            for key, value in result.items():
                if isinstance(value, float):
                    self.writer.add_scalar(f"eval/{key}", value, step)

    def warning(self, step: int, message: str) -> None:
        """Append a warning to ``warnings.jsonl`` (and TensorBoard's text tab)."""
        with (self.path.parent / "warnings.jsonl").open("a") as handle:
            handle.write(json.dumps({"step": step, "warning": message}) + "\n")
        if self.writer is not None:
            self.writer.add_text("warnings", message, step)

    def image(self, step: int, tag: str, array: np.ndarray) -> None:
        """Log an (H, W, C) uint8 image."""
        if self.writer is not None:
            self.writer.add_image(tag, array, step, dataformats="HWC")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """All records of a run's ``metrics.jsonl``."""
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
