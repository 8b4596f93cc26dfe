"""The cache folder that holds downloaded data sets, weights, classifiers and cached features."""

from __future__ import annotations

import os
from pathlib import Path


def gankit_home() -> Path:
    """The cache folder: ``$GANKIT_HOME``, else ``~/.cache/gankit``."""
    return Path(os.environ.get("GANKIT_HOME") or Path.home() / ".cache" / "gankit")
