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


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Weights only load failed. GLOBAL builtins.eval was not an allowed global", "it refers to builtins.eval"),
        ("Weights only load failed because of an unsupported operand", "it refers to a Python object, which is not"),
        (
            "PytorchStreamReader failed locating file data.pkl: file not found\nmore",
            "PytorchStreamReader failed locating file data.pkl: file not found",
        ),
        ("failed finding central directory", "it is truncated or not a torch file (no zip directory)"),
        ("not a zip archive", "it is truncated or not a torch file (no zip directory)"),
        ("first line\nsecond line", "first line"),
        ("", "ValueError"),
        ("x" * 200, "x" * 200),
        ("y" * 201, "y" * 197 + "..."),
    ],
)
def test_reason_is_one_clause(text, reason):
    got = checkpoint_io._reason(ValueError(text))
    assert got.startswith(reason) and "\n" not in got
    if reason.startswith("it refers to"):
        assert got.endswith(", which is not read (a checkpoint holds tensors and numbers only)")
    elif not reason.startswith("it is"):
        assert got == reason


def test_missing_paths_are_one_line_errors(tmp_path):
    with pytest.raises(GankitError, match=r"^no such checkpoint: .*nothing\.pt$"):
        checkpoint_io.load(tmp_path / "nothing.pt")
    with pytest.raises(GankitError, match=r"^no such run directory or checkpoint: .*absent$"):
        checkpoint_io.newest_readable(tmp_path / "absent")
    with pytest.raises(GankitError, match=r"has no checkpoints/step-\*\.pt; pass a run directory of gankit train$"):
        checkpoint_io.newest_readable(tmp_path)


def test_newest_readable_maps_tensors_names_the_file_and_joins_every_skip(tmp_path):
    folder = tmp_path / "checkpoints"
    for step in (1, 2, 3):
        payload = {"format": checkpoint_io.FORMAT, "step": step, "w": torch.full((3,), float(step))}
        checkpoint_io.save_atomic(payload, checkpoint_io.checkpoint_path(folder, step))
    found = checkpoint_io.newest_readable(checkpoint_io.checkpoint_path(folder, 3))  # a file: loaded as it is
    assert found.path == checkpoint_io.checkpoint_path(folder, 3) and torch.equal(
        found.state["w"], torch.full((3,), 3.0)
    )
    for step in (2, 3):
        path = checkpoint_io.checkpoint_path(folder, step)
        path.write_bytes(path.read_bytes()[:100])
    found = checkpoint_io.newest_readable(tmp_path)
    assert found.state["step"] == 1 and found.state["w"].device.type == "cpu"
    assert [s.split(" (")[0] for s in found.skipped] == ["skipped step-000003.pt", "skipped step-000002.pt"]
    path = checkpoint_io.checkpoint_path(folder, 1)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(GankitError, match=r"skipped step-000001\.pt \(.*\); moved it to step-000001\.pt\.damaged$"):
        checkpoint_io.newest_readable(tmp_path)
    # two unreadable files in one run: both named, separated by "; "
    for step in (4, 5):
        checkpoint_io.checkpoint_path(folder, step).write_bytes(b"junk")
    with pytest.raises(GankitError, match=r"moved it to step-000005\.pt\.damaged; skipped step-000004\.pt"):
        checkpoint_io.newest_readable(tmp_path)


def test_prune_keeps_only_the_newest_and_tolerates_a_file_already_gone(tmp_path, monkeypatch):
    for step in (1, 2, 3, 4):
        checkpoint_io.save_atomic({"format": checkpoint_io.FORMAT}, checkpoint_io.checkpoint_path(tmp_path, step))
    checkpoint_io.prune(tmp_path, 1)
    assert [p.name for p in checkpoint_io.list_checkpoints(tmp_path)] == ["step-000004.pt"]
    gone = checkpoint_io.checkpoint_path(tmp_path, 0)  # listed, then deleted by another process
    listed = checkpoint_io.list_checkpoints(tmp_path)
    monkeypatch.setattr(checkpoint_io, "list_checkpoints", lambda folder: [gone, *listed])
    checkpoint_io.prune(tmp_path, 1)
    assert checkpoint_io.checkpoint_path(tmp_path, 4).is_file()


def test_save_creates_missing_folders_and_writes_through_a_temporary_file_beside_the_target(tmp_path, monkeypatch):
    created = []
    mkstemp = checkpoint_io.tempfile.mkstemp

    def spy(**kwargs):
        fd, name = mkstemp(**kwargs)
        created.append(name)
        return fd, name

    monkeypatch.setattr(checkpoint_io.tempfile, "mkstemp", spy)
    path = tmp_path / "run" / "checkpoints" / "step-000007.pt"
    checkpoint_io.save_atomic({"format": checkpoint_io.FORMAT, "step": 7}, path)
    assert checkpoint_io.load(path)["step"] == 7
    (temporary,) = created
    # same folder (a rename is atomic only within one file system), hidden, named after the target
    assert temporary.startswith(str(path.parent / ".step-000007.pt.")) and temporary.endswith(".tmp")
    assert sorted(p.name for p in path.parent.iterdir()) == ["step-000007.pt"]


def test_a_failed_save_reports_its_own_error_even_if_the_temporary_file_is_gone(tmp_path, monkeypatch):
    def failing_save(payload, handle):
        for temporary in tmp_path.glob(".step-000001.pt.*.tmp"):
            temporary.unlink()
        raise RuntimeError("device lost")

    monkeypatch.setattr(checkpoint_io.torch, "save", failing_save)
    with pytest.raises(RuntimeError, match="device lost"):
        checkpoint_io.save_atomic({"format": checkpoint_io.FORMAT}, tmp_path / "step-000001.pt")
    assert list(tmp_path.iterdir()) == []


def test_numpy_state_with_a_cached_gaussian_roundtrips():
    import numpy as np

    np.random.seed(0)
    np.random.randn()  # the legacy generator now holds the second Gaussian of a pair
    state = checkpoint_io.rng_state()
    assert state["numpy"]["keys"].dtype == torch.int64 and state["numpy"]["has_gauss"] == 1
    expected = np.random.randn(3)
    checkpoint_io.set_rng_state(state)
    assert np.array_equal(np.random.randn(3), expected)


def test_run_directory_of_a_checkpoint(tmp_path):
    assert checkpoint_io.run_directory(tmp_path / "run" / "checkpoints" / "step-000001.pt") == tmp_path / "run"
    assert checkpoint_io.run_directory(tmp_path / "elsewhere" / "step-000001.pt") == tmp_path / "elsewhere"
