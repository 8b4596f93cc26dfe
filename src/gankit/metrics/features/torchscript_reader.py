"""Read the tensors of a TorchScript archive without running any of its code.

A TorchScript ``.pt`` file is a zip holding ``<root>/data.pkl`` (a pickle of the module tree),
``<root>/data/<key>`` (raw tensor storages) and ``<root>/code/`` (the TorchScript source of the
modules). ``torch.jit.load`` compiles and runs that code; ``torch.load(weights_only=True)`` refuses
such files. Here the pickle is read by an unpickler whose ``find_class`` resolves only a fixed list of
harmless names (``collections.OrderedDict``, the storage types, tensor rebuilding, int lists) to
functions of this module, and turns every ``__torch__.*`` class into an inert :class:`ScriptObject`
that merely records the attribute dict it is given; any other global is an error. The ``code/``
folder is never read. The result is a flat ``{dotted.name: tensor}`` dict of the module tree's tensors.
"""

from __future__ import annotations

import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from gankit.errors import GankitError

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


class ScriptObject:
    """Stand-in for a pickled ``__torch__`` module: keeps the state dict it was built with, nothing else."""

    def __init__(self, qualified_name: str) -> None:
        self.qualified_name = qualified_name
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.state = dict(state)


class _StorageType:
    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


def _script_class(qualified_name: str) -> type:
    class _Object(ScriptObject):
        def __init__(self) -> None:
            super().__init__(qualified_name)

    return _Object


def _rebuild_tensor(storage: torch.Tensor, offset: int, size: tuple, stride: tuple, *_: Any) -> torch.Tensor:
    return storage.as_strided(tuple(size), tuple(stride), offset).clone()


def _build_intlist(values: list) -> list:
    return [int(v) for v in values]


class _Unpickler(pickle.Unpickler):
    def __init__(self, handle: Any, archive: zipfile.ZipFile, root: str, path: Path) -> None:
        super().__init__(handle)
        self.archive, self.root, self.path = archive, root, path

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("__torch__"):
            return _script_class(f"{module}.{name}")
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("torch.jit._pickle", "build_intlist"):
            return _build_intlist
        raise GankitError(f"{self.path}: the TorchScript pickle refers to {module}.{name}, which is not read")

    def persistent_load(self, pid: Any) -> torch.Tensor:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise GankitError(f"{self.path}: unexpected storage reference {pid!r}")
        _, kind, key, _location, numel = pid
        dtype = kind.dtype if isinstance(kind, _StorageType) else None
        if dtype is None:
            raise GankitError(f"{self.path}: unknown storage type {kind!r}")
        raw = bytearray(self.archive.read(f"{self.root}/data/{key}"))
        storage = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        if storage.numel() != numel:
            raise GankitError(f"{self.path}: storage {key} holds {storage.numel()} values, expected {numel}")
        return storage


def _flatten(obj: Any, prefix: str, out: dict[str, torch.Tensor]) -> None:
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
    elif isinstance(obj, ScriptObject):
        for key, value in obj.state.items():
            _flatten(value, f"{prefix}.{key}" if prefix else key, out)


def read_torchscript_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """``{dotted.attribute.path: tensor}`` for every tensor attribute in the module tree of a TorchScript
    archive, read by a restricted unpickler that runs no code from the file (see the module docstring)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
            if len(pickles) != 1:
                raise GankitError(f"{path}: not a TorchScript archive (no <root>/data.pkl)")
            root = pickles[0].split("/")[0]
            with archive.open(pickles[0]) as handle:
                tree = _Unpickler(handle, archive, root, path).load()
    except (zipfile.BadZipFile, OSError, pickle.UnpicklingError, EOFError, KeyError, ValueError) as exc:
        raise GankitError(f"{path}: unreadable TorchScript archive ({exc.__class__.__name__}: {exc})") from exc
    tensors: dict[str, torch.Tensor] = {}
    _flatten(tree, "", tensors)
    return tensors
