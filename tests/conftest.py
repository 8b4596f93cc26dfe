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


class RankLauncher:
    """Starts ``world`` processes of ``python ARGS`` with the environment torchrun gives its workers (RANK,
    LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), on this machine, one CPU thread each."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def environment(self, rank: int, world: int, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE=str(world),
            LOCAL_WORLD_SIZE=str(world),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
            OMP_NUM_THREADS="1",
            GANKIT_HOME=str(self.home),
            PYTHONPATH=os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]),
        )
        env.update(extra or {})
        return env

    def start(self, args: list[str], world: int = 2, cwd: Path | None = None, env: dict[str, str] | None = None):
        import socket
        import subprocess
        import sys

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return [
            subprocess.Popen(
                [sys.executable, *args],
                cwd=cwd or REPO,
                env=self.environment(rank, world, port, env),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for rank in range(world)
        ]

    def run(self, args: list[str], world: int = 2, cwd: Path | None = None, timeout: float = 300, **kw):
        """Run to the end; returns [(returncode, stdout, stderr)] in rank order (all killed after ``timeout``)."""
        import subprocess

        processes = self.start(args, world, cwd, **kw)
        results = []
        for process in processes:
            try:
                out, err = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                for p in processes:
                    p.kill()
                raise
            results.append((process.returncode, out, err))
        return results


@pytest.fixture(scope="session")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> RankLauncher:
    """Launch several gankit processes as torchrun would (see :class:`RankLauncher`)."""
    return RankLauncher(tmp_path_factory.mktemp("ranks-home"))
