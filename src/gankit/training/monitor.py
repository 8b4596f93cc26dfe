"""Divergence detection: warn, with what was seen, when D wins outright or the losses explode.

Arjovsky & Bottou (ICLR 2017) show that a discriminator that separates real from generated data
perfectly leaves the generator without a useful gradient; exploding losses are the other common
failure. Both are reported instead of training on silently (mode collapse is measured separately
by :mod:`gankit.metrics.modes`).
"""

from __future__ import annotations

from collections import deque


class DivergenceMonitor:
    """Watches logged records; returns a warning once a condition has held for ``window`` records in a row.

    Conditions: D accuracy >= ``accuracy`` (on losses that have one), or |loss_d| or |loss_g| above
    ``loss_limit``. Each warning is issued once and re-armed after the condition clears.
    """

    def __init__(self, window: int = 10, accuracy: float = 0.99, loss_limit: float = 1e3) -> None:
        self.window, self.accuracy, self.loss_limit = window, accuracy, loss_limit
        self.history: dict[str, deque[bool]] = {"accuracy": deque(maxlen=window), "loss": deque(maxlen=window)}
        self.active = {"accuracy": False, "loss": False}

    def update(self, step: int, values: dict[str, float]) -> list[str]:
        """Feed one logged record; return the warnings it triggers (usually none)."""
        seen = {
            "accuracy": values.get("d_accuracy", 0.0) >= self.accuracy,
            "loss": max(abs(values.get("loss_d", 0.0)), abs(values["loss_g"])) > self.loss_limit,
        }
        messages = []
        for key, flag in seen.items():
            self.history[key].append(flag)
            held = len(self.history[key]) == self.window and all(self.history[key])
            if held and not self.active[key]:
                messages.append(self._message(key, step, values))
            self.active[key] = held or (self.active[key] and flag)
        return messages

    def _message(self, key: str, step: int, values: dict[str, float]) -> str:
        if key == "accuracy":
            return (
                f"step {step}: D accuracy >= {self.accuracy:.0%} for {self.window} logged steps in a row "
                f"(d_real {values['d_real']:.2f}, d_fake {values['d_fake']:.2f}, loss_g {values['loss_g']:.3f}): "
                "D separates real from fake, G's gradient may vanish; consider a stabiliser (gp, r1, noise, sn)"
            )
        return (
            f"step {step}: |loss| > {self.loss_limit:g} for {self.window} logged steps in a row "
            f"(loss_d {values.get('loss_d', float('nan')):.3g}, loss_g {values['loss_g']:.3g}): training is diverging"
        )
