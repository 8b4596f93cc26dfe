"""Shared fixtures: an isolated $GANKIT_HOME for every test, and the offline assets folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def assets_dir() -> Path:
    """``$GANKIT_TEST_ASSETS``, else ``../shared/assets`` beside the repository."""
    return Path(os.environ.get("GANKIT_TEST_ASSETS") or REPO.parent / "shared" / "assets")


@pytest.fixture
def assets() -> Path:
    folder = assets_dir()
    if not folder.is_dir():
        pytest.skip(f"offline assets not found at {folder} (set GANKIT_TEST_ASSETS to ../shared/assets)")
    return folder


@pytest.fixture(autouse=True)
def gankit_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("gankit-home")
    monkeypatch.setenv("GANKIT_HOME", str(home))
    return home
