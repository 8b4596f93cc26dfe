"""Reading a TorchScript archive's tensors runs no code from it."""

from __future__ import annotations

import io
import pickle
import zipfile

import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.metrics.features.torchscript_reader import read_torchscript_tensors


class Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.block = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 1))
        self.register_buffer("scale", torch.arange(6.0).view(2, 3).t())  # non-contiguous strides

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).sum() * self.scale.sum() + self.block(x.flatten(1)[:, :4]).sum()


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_reads_every_tensor_of_a_scripted_module(tmp_path):
    torch.manual_seed(0)
    module = torch.jit.script(Small())
    path = tmp_path / "small.pt"
    module.save(str(path))
    tensors = read_torchscript_tensors(path)
    expected = dict(module.named_parameters()) | dict(module.named_buffers())
    assert set(tensors) == set(expected)
    for name, value in expected.items():
        assert torch.equal(tensors[name], value.detach()), name


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').write('x')",))

    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps(Exploit(), protocol=2))
        archive.writestr("evil/constants.pkl", pickle.dumps((), protocol=2))
    with pytest.raises(GankitError, match=r"refers to (__builtin__|builtins)\.exec, which is not read"):
        read_torchscript_tensors(path)
    assert not marker.exists()


def test_not_an_archive(tmp_path):
    path = tmp_path / "plain.pt"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(GankitError, match="unreadable TorchScript archive"):
        read_torchscript_tensors(path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    (tmp_path / "zip.pt").write_bytes(buffer.getvalue())
    with pytest.raises(GankitError, match="no <root>/data.pkl"):
        read_torchscript_tensors(tmp_path / "zip.pt")
