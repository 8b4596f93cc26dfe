"""The training loop and what it writes: checkpoints, EMA, logs."""
