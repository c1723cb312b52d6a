"""Networks, stages, losses (PML), folds, training loop, checkpoints, DDP and inference.

``train(TrainConfig(...))`` writes a run directory; ``load_run(dir)`` reads it back.
Heavy modules are imported on first use so that ``import galcat.model`` stays cheap.
"""

from galcat.model.config import TrainConfig

_LAZY = {
    "train": "galcat.model.loop",
    "TrainResult": "galcat.model.loop",
    "load_run": "galcat.model.run",
    "Run": "galcat.model.run",
    "FoldModel": "galcat.model.run",
    "load_fold_model": "galcat.model.run",
    "predict": "galcat.model.inference",
    "Predictions": "galcat.model.inference",
    "GalaxyNet": "galcat.model.networks",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'galcat.model' has no attribute {name!r}")


__all__ = ["TrainConfig", *_LAZY]
