"""gankit: train, evaluate and use generative adversarial and MMD-based models in PyTorch."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gankit")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
