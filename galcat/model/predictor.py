"""One predictor for a trained run: store rows or an in-memory image array -> one result.

Why one object: evaluate, embed, classify, neighbours, the probe and training's prototypes all
need the same things from a run (the image size it was trained at, the views it averages, each
fold's temperature, the k-NN vote of a DML model) and used to resolve them each its own way. A
:class:`Predictor` loads them once; :meth:`Predictor.predict` and :meth:`Predictor.predict_store`
return a :class:`Prediction` with every fold's logits and embedding, the pooled calibrated
probabilities and their uncertainty, and the neighbours that voted. It is the only caller of the
low-level forward pass (:func:`galcat.model.inference.predict`).

    run = galcat.load_run("runs/x")
    result = run.predictor().predict(images)        # uint8 (N, H, W, 3), any H, W
    result.probabilities, result.predicted, result.embeddings
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galcat.errors import GalcatError
from galcat.model.calibration import (
    CALIBRATION_FILE,
    Calibration,
    calibrate,
    load_calibration,
    save_calibration,
)
from galcat.model.calibration import softmax as scaled_softmax
from galcat.model.checkpoint import model_hash
from galcat.model.ensemble import combine, mean_embedding, pool_probabilities, select_folds
from galcat.model.vote import knn_vote

#: Size of the training image the predictor falls back to for a network that does not say.
DEFAULT_IMAGE_SIZE = 75


@dataclass
class Prediction:
    """Predictions of the selected folds for N images (store rows in the order asked for).

    Fold arrays have the fold axis first, in the order of ``folds``; the classification fields
    are None for a network that cannot classify (a votes-stage or embedding-only network).
    """

    class_names: list[str]
    folds: list[int]
    temperatures: list[float]  # 1.0 for a fold without calibration
    embeddings: np.ndarray  # (N, D) mean of the folds' L2-normalised embeddings, L2-normalised
    fold_embeddings: np.ndarray  # (F, N, D) each fold's embedding as its network gives it
    index: np.ndarray | None = None  # (N,) store rows; positions for an array
    fold_logits: np.ndarray | None = None  # (F, N, C) before temperature scaling
    fold_probabilities: np.ndarray | None = None  # (F, N, C) temperature-scaled softmax per fold
    probabilities: np.ndarray | None = None  # (N, C) pool (normalised geometric mean) of the folds
    std: np.ndarray | None = None  # (N, C) standard deviation of the folds' probabilities
    entropy: np.ndarray | None = None  # (N,) normalised entropy of ``probabilities`` in [0, 1]
    agreement: np.ndarray | None = None  # (N,) fraction of folds whose top class is the pool's
    votes: np.ndarray | None = None  # (N, 37) mean vote fractions of a votes-stage network
    vote_distances: np.ndarray | None = None  # (F, N, k) distances to the k-NN voters, nearest first
    vote_rows: np.ndarray | None = None  # (F, N, k) their rows in the run's training store
    vote_labels: np.ndarray | None = None  # (F, N, k) their class codes

    @property
    def predicted(self) -> np.ndarray | None:
        """(N,) the most probable class name of every image."""
        if self.probabilities is None:
            return None
        return np.asarray(self.class_names, dtype=str)[self.probabilities.argmax(axis=1)]

    @property
    def raw_fold_probabilities(self) -> np.ndarray | None:
        """(F, N, C) softmax of every fold's logits before temperature scaling."""
        if self.fold_logits is None:
            return None
        return np.stack([scaled_softmax(logits) for logits in self.fold_logits])

    @property
    def raw_probabilities(self) -> np.ndarray | None:
        """(N, C) the pool of :attr:`raw_fold_probabilities` (the ensemble before calibration)."""
        raw = self.raw_fold_probabilities
        return None if raw is None else pool_probabilities(raw)

    def fold(self, position: int) -> Prediction:
        """The prediction of the fold at ``position`` alone (its own arrays; pooled fields None)."""
        one = {
            name: value[position : position + 1] if name in FOLD_FIELDS and value is not None else value
            for name, value in vars(self).items()
        }
        one.update(folds=[self.folds[position]], temperatures=[self.temperatures[position]])
        one.update(probabilities=None, std=None, entropy=None, agreement=None)
        return Prediction(**one)

    def __repr__(self) -> str:
        kind = f"{len(self.class_names)} classes" if self.probabilities is not None else "embeddings only"
        return f"Prediction({len(self.embeddings)} images, folds {self.folds}, {kind})"


#: Prediction fields with the fold axis first
FOLD_FIELDS = (
    "fold_embeddings", "fold_logits", "fold_probabilities", "vote_distances", "vote_rows", "vote_labels",
)  # fmt: skip


@dataclass
class _FoldOutput:
    """One fold's raw outputs for the rows asked for."""

    embeddings: np.ndarray
    logits: np.ndarray | None
    votes: np.ndarray | None
    vote: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # distances, rows, labels of the voters


def _turned(model, turns: int | None):
    """``model`` averaging ``turns`` views (a copy when that changes it; None: as trained)."""
    if turns is None or int(getattr(model, "rotations", 1) or 1) == int(turns):
        return model
    if not hasattr(model, "set_predict_turns"):
        raise GalcatError(f"{type(model).__name__} has no choice of prediction turns")
    model = copy.deepcopy(model)
    model.set_predict_turns(int(turns))
    return model


class Predictor:
    """Networks of a run's selected folds with their image size, turns, temperatures and vote rule.

    ``folds``: ``[(number, FoldModel or nn.Module)]``; ``temperatures`` one per fold (None: 1).
    ``run`` (optional) is the run they came from: its training store is where a calibration is
    fitted and what the k-NN voters' rows refer to.
    """

    def __init__(
        self, folds, temperatures=None, run=None, batch_size: int = 128, device=None, image_size=None,
        num_workers: int = 0,
    ):  # fmt: skip
        if not folds:
            raise GalcatError("no fold selected")
        self.numbers = [int(n) for n, _ in folds]
        self.fold_models = [f for _, f in folds]
        self.models = [getattr(f, "model", f) for f in self.fold_models]
        self.run = run
        self.batch_size, self.device, self.num_workers = int(batch_size), device, int(num_workers)
        temps = temperatures or [None] * len(folds)
        self.temperatures = [float(t) if t else 1.0 for t in temps]
        config = getattr(run, "config", None)
        size = (
            image_size or getattr(self.models[0], "image_size", None) or getattr(config, "image_size", None)
        )
        self.image_size = int(size or DEFAULT_IMAGE_SIZE)
        first = self.fold_models[0]
        self.class_names = [str(c) for c in (getattr(first, "class_names", None) or [])]
        self.scheme = getattr(first, "scheme", None)
        for number, fold in zip(self.numbers[1:], self.fold_models[1:], strict=True):
            if [str(c) for c in (getattr(fold, "class_names", None) or [])] != self.class_names:
                where = f"{run.path}: " if getattr(run, "path", None) else ""
                raise GalcatError(
                    f"{where}fold {number} classes {fold.class_names} differ from {self.class_names}"
                )
        self.calibrations: list[Calibration | None] = [None] * len(self.numbers)
        self._fitted: dict[int, tuple] = {}  # fold number -> (key, output) of a calibration fit, used once

    @classmethod
    def from_run(
        cls, run, folds=None, predict_turns=None, calibrate: bool = True, batch_size: int = 128, device=None,
        refit: bool = False,
    ) -> Predictor:  # fmt: skip
        """The selected folds of ``run`` (None/'all', a number, or '0,2'), calibrated when asked:
        each fold's saved ``calibration.json``, fitted on its validation rows when missing."""
        selected = select_folds(run, folds)
        if predict_turns is not None:
            selected = [(n, copy.copy(f)) for n, f in selected]
            for _, fold in selected:
                fold.model = _turned(fold.model, predict_turns)
        predictor = cls(selected, run=run, batch_size=batch_size, device=device)
        if calibrate:
            predictor.calibrate(refit)
        return predictor

    def calibrate(self, refit: bool = False) -> list[Calibration | None]:
        """Load (or fit on the validation rows, and save) every fold's temperature and use it."""
        self.calibrations = [
            self._calibration(n, f, refit) for n, f in zip(self.numbers, self.fold_models, strict=True)
        ]
        self.temperatures = [c.temperature if c is not None else 1.0 for c in self.calibrations]
        return self.calibrations

    def select(self, folds) -> Predictor:
        """A predictor of some of these folds (numbers), sharing their networks and temperatures."""
        wanted = [int(folds)] if isinstance(folds, int) else [int(f) for f in folds]
        missing = [w for w in wanted if w not in self.numbers]
        if missing:
            raise GalcatError(f"fold {missing[0]} is not one of the predictor's folds {self.numbers}")
        pos = [self.numbers.index(w) for w in wanted]
        sub = copy.copy(self)
        sub.numbers = wanted
        sub.fold_models = [self.fold_models[p] for p in pos]
        sub.models = [self.models[p] for p in pos]
        sub.temperatures = [self.temperatures[p] for p in pos]
        sub.calibrations = [self.calibrations[p] for p in pos]
        return sub

    def __repr__(self) -> str:
        where = f" of {self.run.path}" if getattr(self.run, "path", None) else ""
        temps = ", ".join(f"{t:.3g}" for t in self.temperatures)
        return f"Predictor(folds {self.numbers}{where}, image_size={self.image_size}, T=[{temps}])"

    # predictions ---------------------------------------------------------------------------------
    def predict(self, images) -> Prediction:
        """Predict an in-memory uint8 array (N, H, W, 3) of any H, W (resized to ``image_size``)."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise GalcatError(f"images must be a uint8 array (N, H, W, 3), got {images.dtype} {images.shape}")
        return self._combine([self._fold_output(model, images, None) for model in self.models], None)

    def predict_store(self, store, rows=None) -> Prediction:
        """Predict store rows (all when None), in the order asked for."""
        path = str(getattr(store, "path", store))
        if rows is None:
            from galcat.store import open_store

            with open_store(path) as opened:
                rows = np.arange(len(opened), dtype=np.int64)
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        outputs = []
        for number, model in zip(self.numbers, self.models, strict=True):
            fitted = self._fitted.pop(number, None)
            if fitted is not None and fitted[0] == _rows_key(path, rows, model):
                outputs.append(fitted[1])  # the calibration fit just predicted exactly these rows
            else:
                outputs.append(self._fold_output(model, path, rows))
        return self._combine(outputs, rows)

    def _fold_output(self, model, source, rows) -> _FoldOutput:
        from galcat.model.inference import predict

        pred = predict(
            model, source, indices=rows, batch_size=self.batch_size, device=self.device,
            image_size=self.image_size, num_workers=self.num_workers,
        )  # fmt: skip
        logits, vote = pred.logits, None
        reference = getattr(model, "reference_labels", None)
        if (
            logits is None
            and getattr(model, "predictor", None) == "knn"
            and reference is not None
            and len(reference)
        ):
            logits, distances, positions = knn_vote(
                pred.embeddings, model.reference_embeddings.cpu().numpy(), reference.cpu().numpy(),
                len(model.class_names), model.knn_k,
            )  # fmt: skip
            ref_rows = getattr(model, "reference_rows", None)
            rows_of = positions if ref_rows is None else np.asarray(ref_rows)[positions]
            vote = (
                distances.astype(np.float32),
                rows_of.astype(np.int64),
                reference.cpu().numpy()[positions],
            )
        if logits is not None and self.class_names and logits.shape[1] != len(self.class_names):
            raise GalcatError(
                f"the model outputs {logits.shape[1]} classes but names {len(self.class_names)}"
            )
        return _FoldOutput(pred.embeddings, logits, pred.votes, vote)

    def _combine(self, outputs: list[_FoldOutput], rows) -> Prediction:
        fold_embeddings = np.stack([o.embeddings for o in outputs])
        result = Prediction(
            class_names=list(self.class_names), folds=list(self.numbers),
            temperatures=list(self.temperatures),
            embeddings=mean_embedding(fold_embeddings), fold_embeddings=fold_embeddings,
            index=rows.copy() if rows is not None else np.arange(len(outputs[0].embeddings)),
        )  # fmt: skip
        with_logits = [o.logits for o in outputs if o.logits is not None]
        if with_logits and len(with_logits) != len(outputs):
            raise GalcatError("some selected folds have a classifier and some do not; select one kind")
        if with_logits:
            result.fold_logits = np.stack(with_logits)
            result.fold_probabilities = np.stack(
                [scaled_softmax(logits, t) for logits, t in zip(with_logits, self.temperatures, strict=True)]
            )
            result.probabilities, result.std, result.entropy, result.agreement = combine(
                result.fold_probabilities
            )
        if all(o.votes is not None for o in outputs):
            result.votes = np.mean([o.votes for o in outputs], axis=0).astype(np.float32)
        if all(o.vote is not None for o in outputs):
            k = min(o.vote[0].shape[1] for o in outputs)
            result.vote_distances, result.vote_rows, result.vote_labels = (
                np.stack([o.vote[part][:, :k] for o in outputs]) for part in range(3)
            )
        return result

    # calibration ---------------------------------------------------------------------------------
    def _calibration(self, number: int, fold, refit: bool = False) -> Calibration | None:
        """The fold's saved temperature; fitted on its validation split (and saved) when missing.

        None when the fold cannot be calibrated: no classifier, no validation rows, or the run's
        training store is gone or changed since training.
        """
        if not getattr(fold, "class_names", None) or len(getattr(fold, "val_indices", ())) == 0:
            return None
        fold_dir = Path(fold.path).parent if getattr(fold, "path", None) else None
        sha = model_hash(fold.model)
        path = fold_dir / CALIBRATION_FILE if fold_dir is not None else None
        if path is not None and not refit:
            saved = load_calibration(path, sha)
            if saved is not None:
                return saved
        store_path = getattr(getattr(self.run, "config", None), "store", "") or ""
        if not store_path or not Path(store_path).is_file():
            return _uncalibrated(number, f"its training store {store_path!r} is not found")
        from galcat.store import open_store

        with open_store(store_path) as store:
            if fold.store_fingerprint and store.fingerprint != fold.store_fingerprint:
                return _uncalibrated(number, f"{store_path} changed since training")
            codes = np.asarray(store.label_codes(fold.scheme), dtype=np.int64) if fold.scheme else None
        if codes is None:
            return None
        rows = np.asarray(fold.val_indices, dtype=np.int64)
        output = self._fold_output(fold.model, str(store_path), rows)
        if output.logits is None:
            return None
        self._fitted[number] = (_rows_key(str(store_path), rows, fold.model), output)
        labels = codes[rows]
        keep = labels >= 0
        calibration = calibrate(output.logits[keep], labels[keep], model_hash=sha)
        if calibration.note:  # too few validation rows, or a T that would not help unseen rows
            from galcat.progress import console

            console.print(f"fold {number}: no temperature scaling: {calibration.note}")
        if path is not None:
            save_calibration(path, calibration)
        return calibration


def _uncalibrated(number: int, why: str) -> None:
    from galcat.progress import console

    console.print(f"fold {number}: no temperature scaling (T = 1): {why}")
    return None


def _rows_key(store_path: str, rows: np.ndarray, model) -> tuple:
    """What a fold's output depends on besides its weights: store, rows (in order), views."""
    digest = hashlib.sha256(np.ascontiguousarray(rows, dtype=np.int64).tobytes()).hexdigest()
    return str(Path(store_path).resolve()), digest, int(getattr(model, "rotations", 1) or 1)
