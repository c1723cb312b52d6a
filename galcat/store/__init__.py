"""HDF5 image stores: preprocessing, crash-safe build, reader, verify, xarray view.

Layout and API: docs/architecture.md ("Store API"). The build pipeline and the xarray view are
imported lazily so that reading a store does not pull in the image sources or xarray.
"""

from galcat._lazy import lazy_dir, lazy_exports
from galcat.store.preprocess import PreprocessConfig, preprocess
from galcat.store.reader import Store, open_store
from galcat.store.writer import SCHEMA_VERSION, write_store

_LAZY = {
    "BuildConfig": "galcat.store.build",
    "BuildSummary": "galcat.store.build",
    "build_store": "galcat.store.build",
    "build_from_config": "galcat.store.api",
    "verify_store": "galcat.store.verify",
    "VerifyReport": "galcat.store.verify",
    "store_info": "galcat.store.verify",
    "open_dataset": "galcat.store.xarray_view",
}

__getattr__ = lazy_exports(__name__, _LAZY)
__dir__ = lazy_dir(globals(), _LAZY)


__all__ = [
    "SCHEMA_VERSION",
    "PreprocessConfig",
    "Store",
    "open_store",
    "preprocess",
    "write_store",
    *_LAZY,
]
