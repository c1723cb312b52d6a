"""galcat: galaxy catalogues -> HDF5 stores -> morphology models -> catalogue columns.

The pipeline flows one way, one package per stage::

    catalogues -> coords -> images -> store -> model -> evaluate / outputs

Every stage has a Python API; the ``galcat`` CLI is a thin layer over it. The one name the
package root re-exports (lazily, so ``import galcat`` stays cheap) is the way in for predictions::

    galcat.load_run("runs/x").predictor().predict(images)   # uint8 (N, H, W, 3)
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("galcat")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from galcat._lazy import lazy_dir, lazy_exports  # noqa: E402
from galcat.errors import GalcatError  # noqa: E402

#: the root's lazy re-exports: the only upward edges of the shared base (tests/test_import_graph.py)
_LAZY = {"load_run": "galcat.model.run"}

__getattr__ = lazy_exports(__name__, _LAZY)
__dir__ = lazy_dir(globals(), _LAZY)

__all__ = ["GalcatError", "__version__", *_LAZY]
