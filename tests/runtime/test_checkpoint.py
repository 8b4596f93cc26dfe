import pickle

import pytest
import torch

from gankit.errors import GankitError
from gankit.runtime import checkpoint as checkpoint_io


def test_atomic_save_and_load_roundtrip(tmp_path):
    payload = {"format": checkpoint_io.FORMAT, "step": 3, "w": torch.arange(4.0), "rng": checkpoint_io.rng_state()}
    path = tmp_path / "step-000003.pt"
    checkpoint_io.save_atomic(payload, path)
    loaded = checkpoint_io.load(path)
    assert loaded["step"] == 3 and torch.equal(loaded["w"], payload["w"])
    assert [p.name for p in tmp_path.iterdir()] == ["step-000003.pt"]


def test_rng_state_roundtrip():
    import random

    import numpy as np

    state = checkpoint_io.rng_state()
    expected = (torch.rand(3), np.random.rand(3), random.random())
    checkpoint_io.set_rng_state(state)
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1])
    assert random.random() == expected[2]


def test_failed_save_keeps_previous_file(tmp_path):
    path = tmp_path / "step-000001.pt"
    checkpoint_io.save_atomic({"format": checkpoint_io.FORMAT, "step": 1}, path)

    class Unsaveable:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        checkpoint_io.save_atomic({"format": checkpoint_io.FORMAT, "bad": Unsaveable()}, path)
    assert checkpoint_io.load(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["step-000001.pt"]


def test_prune_keeps_newest(tmp_path):
    for step in (1, 20, 3, 400):
        checkpoint_io.save_atomic({"format": checkpoint_io.FORMAT}, checkpoint_io.checkpoint_path(tmp_path, step))
    checkpoint_io.prune(tmp_path, 2)
    assert [p.name for p in checkpoint_io.list_checkpoints(tmp_path)] == ["step-000020.pt", "step-000400.pt"]


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "step-000001.pt"
    checkpoint_io.save_atomic({"format": checkpoint_io.FORMAT, "w": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(GankitError, match="is unreadable"):
        checkpoint_io.load(path)


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_loading_never_executes_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        pickle.dump({"format": checkpoint_io.FORMAT, "x": Exploit(str(marker))}, handle, protocol=2)
    with pytest.raises(GankitError, match="unreadable"):
        checkpoint_io.load(path)
    assert not marker.exists()


def test_foreign_file_is_rejected(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(GankitError, match="not a gankit checkpoint"):
        checkpoint_io.load(path)


def test_newest_readable_skips_a_damaged_checkpoint_and_moves_it_aside(tmp_path):
    folder = tmp_path / "checkpoints"
    for step in (2, 4):
        checkpoint_io.save_atomic({"format": checkpoint_io.FORMAT, "step": step}, folder / f"step-{step:06d}.pt")
    newest = folder / "step-000004.pt"
    newest.write_bytes(newest.read_bytes()[:100])  # a write cut short by a full disk
    found = checkpoint_io.newest_readable(tmp_path)
    assert found.path.name == "step-000002.pt" and found.state["step"] == 2
    assert not newest.exists() and (folder / "step-000004.pt.damaged").is_file()
    assert "skipped step-000004.pt" in found.skipped[0] and "truncated" in found.skipped[0]
    assert "step-000004.pt.damaged" in found.skipped[0]
    # a checkpoint file is accepted as well as a run directory
    assert checkpoint_io.newest_readable(folder / "step-000002.pt").state["step"] == 2


def test_a_checkpoint_that_runs_code_is_refused_with_the_name_of_what_it_calls(tmp_path):
    import os

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "checkpoints" / "step-000001.pt"
    path.parent.mkdir()
    torch.save({"format": checkpoint_io.FORMAT, "step": 1, "x": Evil()}, path)
    with pytest.raises(GankitError, match=r"refers to posix\.system, which is not read") as info:
        checkpoint_io.load(path)
    assert "\n" not in str(info.value) and "Re-running" not in str(info.value)
    assert not marker.exists()
    with pytest.raises(GankitError, match="no checkpoint of .* is readable"):
        checkpoint_io.newest_readable(tmp_path)
