"""What the classic density baselines share: their data space, bits/dim, imputation results and files.

Data space. Images are modelled where gankit's generators live: a uint8 pixel x becomes
v = x / 127.5 - 1 in [-1, 1] (the training stream's map; ``gankit.imaging.to_uint8`` maps v back to
x exactly), and an image is the flat vector of its C*H*W values. Float input (vectors, or images
already in [-1, 1]) is modelled as given.

Dequantisation (Theis, van den Oord & Bethge, ICLR 2016, Sec. 3.1; Uria et al. 2013). A density on
continuous v is scored on discrete pixels through y = x + u, u ~ U[-1/2, 1/2)^D: the bin of pixel value
x is [x - 1/2, x + 1/2), the bin that ``to_uint8`` rounds to x. With p_y(y) = p_v(y / 127.5 - 1) / 127.5^D,

    bits/dim = E_u[-log p_y(x + u)] / (D ln 2) >= -log2 P(x) / D >= 0,

an upper bound on the model's discrete code length (Jensen). The bins are the usual unit cubes of the
``[0, 256)`` convention shifted by half a level, so the numbers are on the scale papers report. The
noise has variance 1 / 12 pixel^2, i.e. ``DEQUANTISATION_VARIANCE`` = 1 / (12 * 127.5^2) in v: the
Gaussian models fitted to uint8 images add it to their covariance, which is exactly the maximiser of
the expected dequantised log-likelihood and keeps constant pixels (MNIST's borders) non-singular.

Files. A fitted baseline is one ``.safetensors`` file: its tensors, plus a JSON header entry
(``gankit-baseline``) naming the kind, data shape and hyperparameters. Loading reads tensors only;
no code runs (no pickle).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gankit.errors import GankitError

PIXEL_SCALE = 127.5
DEQUANTISATION_VARIANCE = 1.0 / (12.0 * PIXEL_SCALE**2)
FLOAT_RIDGE = 1e-6
FORMAT = "gankit-baseline-v1"
HEADER_KEY = "gankit-baseline"
DEQUANTISATION = "uniform in the rounding bin [x - 1/2, x + 1/2) of each uint8 level, data space v = x / 127.5 - 1"


def as_vectors(data: Any, source: str = "data") -> tuple[torch.Tensor, tuple[int, ...], bool]:
    """``data`` as float64 (N, D) vectors in model space, its per-sample shape, and whether it was uint8.

    uint8 images (N, C, H, W) map to x / 127.5 - 1; float (N, D) vectors or (N, C, H, W) images are taken
    as given. Anything else (other ranks, empty, NaN) is a one-line error.
    """
    if not isinstance(data, torch.Tensor):
        raise GankitError(f"{source}: expected a torch.Tensor, got {type(data).__name__}")
    if len(data) == 0:
        raise GankitError(f"{source}: no samples")
    if data.dtype == torch.uint8:
        if data.ndim != 4 or data.shape[1] not in (1, 3):
            raise GankitError(f"{source}: uint8 data must be images (N, 1 or 3, H, W), got {tuple(data.shape)}")
        return data.flatten(1).double() / PIXEL_SCALE - 1.0, tuple(data.shape[1:]), True
    if not data.is_floating_point():
        raise GankitError(f"{source}: expected uint8 images or float data, got {data.dtype}")
    if data.ndim not in (2, 4):
        raise GankitError(f"{source}: expected (N, D) vectors or (N, C, H, W) images, got shape {tuple(data.shape)}")
    vectors = data.detach().flatten(1).double().cpu()
    if not torch.isfinite(vectors).all():
        raise GankitError(f"{source}: contains NaN or infinite values; remove those samples")
    return vectors, tuple(data.shape[1:]), False


def default_ridge(ridge: float | None, covariance_trace: float, dim: int, pixels: bool) -> float:
    """The diagonal term added to fitted covariances: ``ridge`` if given, else the dequantisation
    variance for uint8 images, else ``FLOAT_RIDGE`` times the average variance (numerical only)."""
    if ridge is not None:
        if not ridge >= 0 or not math.isfinite(ridge):
            raise GankitError(f"ridge must be a finite number >= 0, got {ridge}")
        return float(ridge)
    if pixels:
        return DEQUANTISATION_VARIANCE
    return FLOAT_RIDGE * max(covariance_trace / dim, 1e-300)


@dataclass
class Imputation:
    """Missing values filled by a density model given the visible ones.

    ``mean``: (N, *shape) float32, visible entries as observed and hidden ones at the conditional mean;
    ``covariance``: the (h, h) conditional covariance of the hidden entries when it is one Gaussian shared by
    the batch (one model, one mask), else None; :meth:`sample` draws completions from the conditional.
    """

    mean: torch.Tensor
    covariance: torch.Tensor | None
    sampler: Callable[[torch.Generator | None], torch.Tensor]

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One completion per input from the conditional distribution, visible entries as observed."""
        return self.sampler(generator)


def check_visible(visible: Any, count: int, shape: tuple[int, ...]) -> torch.Tensor:
    """A bool mask (True = observed) of the sample shape, shared by the batch, or (N, *shape) per sample;
    returned flat as (D,) or (N, D)."""
    if not isinstance(visible, torch.Tensor) or visible.dtype != torch.bool:
        raise GankitError("visible: expected a bool tensor (True where the value is observed)")
    if tuple(visible.shape) == shape:
        return visible.flatten().cpu()
    if tuple(visible.shape) == (count, *shape):
        return visible.flatten(1).cpu()
    raise GankitError(f"visible: mask of shape {tuple(visible.shape)} fits neither {shape} nor ({count}, *{shape})")


class DensityBaseline(ABC):
    """A classic density model of images or vectors: fit, sample, score, impute, save.

    Subclasses implement the model-space methods (``_fit``, ``_log_likelihood``, ``_sample``,
    ``_impute``) on float64 (N, D) vectors; this class converts data, checks shapes and writes files.
    """

    kind: ClassVar[str]

    def __init__(self) -> None:
        self.shape: tuple[int, ...] | None = None
        self.pixels = False

    # -- what a subclass provides -------------------------------------------------------------------
    @abstractmethod
    def _fit(self, vectors: torch.Tensor) -> None: ...

    @abstractmethod
    def _log_likelihood(self, vectors: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def _sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor: ...

    @abstractmethod
    def _impute(self, vectors: torch.Tensor, visible: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, Any]:
        """Conditional mean (N, D), shared conditional covariance or None, and a sampler(generator) -> (N, D),
        for a shared (D,) mask."""

    @abstractmethod
    def hyperparameters(self) -> dict[str, Any]:
        """The settings that define the model (stored in the file header)."""

    @abstractmethod
    def tensors(self) -> dict[str, torch.Tensor]:
        """The fitted parameters (stored in the file)."""

    @abstractmethod
    def _restore(self, tensors: dict[str, torch.Tensor]) -> None: ...

    def _expected_dequantised_nll(self, vectors: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """E_u[-log p_v(v + u / 127.5)] by one Monte Carlo draw of the dequantisation noise per sample;
        Gaussian models override it with the exact value."""
        noise = torch.rand(vectors.shape, generator=generator, dtype=torch.float64) - 0.5
        return -self._log_likelihood(vectors + noise / PIXEL_SCALE)

    # -- the public interface -----------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Number of modelled values per sample (C*H*W for images)."""
        return math.prod(self.require_fitted())

    def require_fitted(self) -> tuple[int, ...]:
        """The fitted sample shape, or a one-line error if the model was never fitted."""
        if self.shape is None:
            raise GankitError(f"the {self.kind} baseline is not fitted yet; call fit(data) or load a saved one")
        return self.shape

    def fit(self, data: torch.Tensor) -> DensityBaseline:
        """Fit to uint8 images (N, C, H, W) or float (N, D) vectors / (N, C, H, W) images; returns self."""
        vectors, shape, pixels = as_vectors(data, f"{self.kind} fit")
        if len(vectors) < 2:
            raise GankitError(f"{self.kind}: needs at least 2 samples to fit, got {len(vectors)}")
        self.shape, self.pixels = shape, pixels
        self._fit(vectors)
        return self

    def model_vectors(self, data: torch.Tensor, source: str = "data") -> torch.Tensor:
        """``data`` in model space as float64 (N, D), checked against the fitted shape."""
        shape = self.require_fitted()
        vectors, data_shape, _ = as_vectors(data, source)
        if data_shape != shape:
            raise GankitError(f"{source}: samples of shape {data_shape}, but the {self.kind} was fitted on {shape}")
        return vectors

    def log_likelihood(self, data: torch.Tensor) -> torch.Tensor:
        """log p(v) in nats per sample (float64 (N,)), a density in model space (uint8 pixels at v = x/127.5-1)."""
        return self._log_likelihood(self.model_vectors(data))

    def bits_per_dim(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Dequantised negative log-likelihood of uint8 images in bits per dimension (see the module text)."""
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
            raise GankitError("bits/dim is defined for uint8 images; pass the images before mapping them to [-1, 1]")
        vectors = self.model_vectors(images)
        nll = self._expected_dequantised_nll(vectors, generator)
        return (nll + self.dim * math.log(PIXEL_SCALE)) / (self.dim * math.log(2.0))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` float32 samples of the fitted shape; images are clamped to [-1, 1] like a generator's tanh."""
        shape = self.require_fitted()
        if n < 1:
            raise GankitError(f"number of samples must be at least 1, got {n}")
        samples = self._sample(n, generator).float().reshape(n, *shape)
        return samples.clamp(-1, 1) if len(shape) == 3 else samples

    def conditional(self, data: torch.Tensor, visible: torch.Tensor) -> Imputation:
        """The distribution of the hidden entries given the visible ones (``visible`` True = observed), as
        an :class:`Imputation`; ``visible`` has the sample shape (shared) or (N, *shape) (one per sample)."""
        shape = self.require_fitted()
        vectors = self.model_vectors(data)
        mask = check_visible(visible, len(vectors), shape)
        if mask.ndim == 1:
            mean, covariance, sampler = self._impute(vectors, mask)
        else:
            mean, covariance, sampler = self._impute_each(vectors, mask)
        n = len(vectors)
        return Imputation(
            mean=mean.float().reshape(n, *shape),
            covariance=covariance,
            sampler=lambda generator: sampler(generator).float().reshape(n, *shape),
        )

    def _impute_each(self, vectors: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, None, Any]:
        groups: dict[bytes, list[int]] = {}
        for i, mask in enumerate(masks):
            groups.setdefault(mask.numpy().tobytes(), []).append(i)
        mean = torch.empty_like(vectors)
        samplers = []
        for rows in groups.values():
            index = torch.tensor(rows)
            group_mean, _, group_sampler = self._impute(vectors[index], masks[rows[0]])
            mean[index] = group_mean
            samplers.append((index, group_sampler))

        def sampler(generator: torch.Generator | None) -> torch.Tensor:
            out = torch.empty_like(vectors)
            for index, group_sampler in samplers:
                out[index] = group_sampler(generator)
            return out

        return mean, None, sampler

    def describe(self) -> dict[str, Any]:
        """The JSON record of the model: format, kind, data shape, whether fitted on pixels, hyperparameters."""
        return {
            "format": FORMAT,
            "kind": self.kind,
            "shape": list(self.require_fitted()),
            "pixels": self.pixels,
            "dequantisation": DEQUANTISATION if self.pixels else None,
            "hyperparameters": self.hyperparameters(),
        }

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to ``path`` (.safetensors) atomically: a temporary file, then a rename."""
        path = Path(path)
        if path.suffix != ".safetensors":
            raise GankitError(f"{path}: baselines are saved as .safetensors files; use that suffix")
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {HEADER_KEY: json.dumps(self.describe())}
        tensors = {k: v.detach().contiguous().cpu() for k, v in self.tensors().items()}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            save_file(tensors, tmp, metadata=header)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def from_record(cls, record: dict[str, Any], tensors: dict[str, torch.Tensor]) -> DensityBaseline:
        """Rebuild a model of this class from its header record and tensors."""
        model = cls(**record["hyperparameters"])
        model.shape, model.pixels = tuple(record["shape"]), bool(record["pixels"])
        model._restore(tensors)
        return model


def read_baseline_file(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The header record and tensors of a saved baseline; a missing, damaged or foreign file is an error."""
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"no such baseline file: {path}")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise GankitError(f"{path} is not a readable safetensors file ({exc}); fit the baseline again") from exc
    try:
        record = json.loads(metadata[HEADER_KEY])
    except (KeyError, json.JSONDecodeError) as exc:
        raise GankitError(f"{path} is not a gankit baseline (no '{HEADER_KEY}' header)") from exc
    if record.get("format") != FORMAT:
        raise GankitError(f"{path}: baseline format {record.get('format')!r} is not {FORMAT!r}; fit it again")
    return record, tensors
