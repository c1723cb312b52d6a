"""Networks, stages, losses (PML), folds, training loop, checkpoints, DDP and inference.

``train(TrainConfig(...))`` writes a run directory; ``load_run(dir)`` reads it back.
Heavy modules are imported on first use so that ``import galcat.model`` stays cheap.
"""

from galcat._lazy import lazy_dir, lazy_exports
from galcat.model.config import TrainConfig

_LAZY = {
    "train": "galcat.model.loop",
    "TrainResult": "galcat.model.loop",
    "load_run": "galcat.model.run",
    "Run": "galcat.model.run",
    "FoldModel": "galcat.model.run",
    "load_fold_model": "galcat.model.run",
    "Predictor": "galcat.model.predictor",
    "Prediction": "galcat.model.predictor",
    "GalaxyNet": "galcat.model.networks",
}

__getattr__ = lazy_exports(__name__, _LAZY)
__dir__ = lazy_dir(globals(), _LAZY)


__all__ = ["TrainConfig", *_LAZY]
