"""galcat: galaxy catalogues -> HDF5 stores -> morphology models -> catalogue columns.

The pipeline flows one way, one package per stage::

    catalogues -> coords -> images -> store -> model -> evaluate / outputs

Every stage has a Python API; the ``galcat`` CLI is a thin layer over it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("galcat")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from galcat.errors import GalcatError  # noqa: E402

__all__ = ["GalcatError", "__version__"]
