"""The ResNet trunk with an embedding head and the stage's predictor.

One network serves every stage so that a checkpoint from one stage initialises the next:
trunk -> embedding (Linear(feat, 512)-ReLU-Linear(512, D), the paper's 128-d LSCE head) -> the
predictor (``GalaxyNet.predictor``):

* ``softmax``: a classifier Linear(D, C) (ce / ls-ce);
* ``knn``: no class head; the predictor (``galcat.model.predictor``) votes among the k nearest training
  embeddings (the run's saved reference): DML, the default for every loss;
* ``proxy``: prototypes (C, D) saved with the weights; logits are scaled cosine similarities to
  them (the class centroids or the loss's proxies, ``galcat.model.prototypes``), so the prediction
  is the nearest prototype in the metric space (proxy losses with ``--predictor centroid|proxy``);
* ``votes``: a 37-output sigmoid vote head.

Trunks start random (as the paper), from ``--weights PATH`` or from an encoder ``--init`` names
(``galcat.model.encoders``: torchvision ResNets or any timm model, ``--arch timm:NAME``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from galcat.errors import GalcatError
from galcat.model.config import PREDICT_TURNS

N_VOTES = 37
PREDICTORS = ("softmax", "proxy", "knn", "votes", "none")


def proxy_logits(embedding: torch.Tensor, proxies: torch.Tensor, scale) -> torch.Tensor:
    """``scale * cos(embedding, proxy)`` for every proxy: the nearest proxy has the largest logit.

    Every proxy loss in galcat is a softmax over such similarities (ProxyNCA's squared distance
    on unit vectors is 2 - 2 cos), so ``softmax`` of these logits is the loss's own class posterior.
    """
    return scale * F.normalize(embedding, dim=1) @ F.normalize(proxies.to(embedding.dtype), dim=1).T


class GalaxyNet(nn.Module):
    """ResNet trunk + heads; ``forward`` returns a dict (see docs/architecture.md)."""

    def __init__(
        self,
        arch: str = "resnet18",
        embedding_dim: int = 128,
        class_names: list[str] | None = None,
        scheme: str | None = None,
        n_votes: int = 0,
        image_size: int = 75,
        predictor: str | None = None,
        knn_k: int = 20,
        rotations: int = 1,
        input_mean=None,
        input_std=None,
    ):
        super().__init__()
        from galcat.model.encoders import IMAGENET, create_trunk

        trunk, n_features, mean, std = create_trunk(arch)
        self.trunk = trunk
        # inputs arrive ImageNet-normalised (BatchAugment); an encoder trained with other
        # statistics sees its own: x' = (x * imagenet_std + imagenet_mean - mean) / std
        self.input_mean = tuple(float(v) for v in (input_mean or mean))
        self.input_std = tuple(float(v) for v in (input_std or std))
        ref_mean, ref_std = torch.tensor(IMAGENET[0]), torch.tensor(IMAGENET[1])
        own_mean, own_std = torch.tensor(self.input_mean), torch.tensor(self.input_std)
        self.register_buffer("input_scale", (ref_std / own_std).view(1, 3, 1, 1), persistent=False)
        shift = ((ref_mean - own_mean) / own_std).view(1, 3, 1, 1)
        self.register_buffer("input_shift", shift, persistent=False)
        self._renormalise = not (torch.equal(ref_mean, own_mean) and torch.equal(ref_std, own_std))
        self.embed = nn.Sequential(
            nn.Linear(n_features, 512), nn.ReLU(inplace=True), nn.Linear(512, embedding_dim)
        )
        self.class_names = list(class_names or [])
        n_classes = len(self.class_names)
        if predictor is None:
            predictor = "votes" if n_votes else ("softmax" if n_classes else "none")
        if predictor not in PREDICTORS:
            raise GalcatError(f"unknown predictor {predictor!r} (one of {', '.join(PREDICTORS)})")
        if predictor in ("softmax", "proxy", "knn") and not n_classes:
            raise GalcatError(f"a {predictor!r} predictor needs class names")
        self.predictor, self.knn_k = predictor, int(knn_k)
        self.classifier = nn.Linear(embedding_dim, n_classes) if predictor == "softmax" else None
        if predictor == "proxy":
            self.register_buffer("proxies", torch.zeros(n_classes, embedding_dim))
            self.register_buffer("proxy_scale", torch.ones(()))
        # knn: the training reference (set_reference), not part of the weights
        self.register_buffer("reference_embeddings", torch.zeros(0, embedding_dim), persistent=False)
        self.register_buffer("reference_labels", torch.zeros(0, dtype=torch.int64), persistent=False)
        self.reference_rows: np.ndarray | None = None
        self.votes = nn.Linear(embedding_dim, n_votes) if n_votes else None
        self.arch, self.embedding_dim, self.scheme = arch, embedding_dim, scheme
        self.n_votes, self.image_size = n_votes, image_size
        self.rotations = 1
        self.set_predict_turns(rotations)
        self.reference_turns = self.rotations  # the views the saved k-NN reference was embedded with

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self._renormalise:
            x = x * self.input_scale.to(x.dtype) + self.input_shift.to(x.dtype)
        embedding = self.embed(self.trunk(x))
        out = {"embedding": embedding}
        if self.classifier is not None:
            out["logits"] = self.classifier(embedding)
        elif self.predictor == "proxy":
            out["logits"] = proxy_logits(embedding.float(), self.proxies, self.proxy_scale)
        if self.votes is not None:
            out["votes"] = torch.sigmoid(self.votes(embedding))
        return out

    @torch.no_grad()
    def set_proxies(self, proxies: torch.Tensor, scale: float) -> None:
        """Copy the DML loss's proxies (C, D) and its similarity scale into the network."""
        self.proxies.copy_(proxies.detach().reshape(self.proxies.shape))
        self.proxy_scale.fill_(float(scale))

    def set_reference(self, embeddings, labels, rows=None) -> None:
        """The training embeddings and labels that a ``knn`` predictor votes among, and the store
        rows they came from (so evaluation can reuse them instead of embedding those rows again)."""
        dev = self.reference_embeddings.device
        self.reference_embeddings = torch.as_tensor(embeddings, dtype=torch.float32, device=dev)
        self.reference_labels = torch.as_tensor(labels, dtype=torch.int64, device=dev)
        self.reference_rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        self.reference_turns = self.rotations

    def set_predict_turns(self, turns: int) -> None:
        """Views averaged at inference (galcat.model.inference): 1, or the image's four 90-degree
        turns. Training fixes a default; evaluate, embed and classify may change it for speed."""
        if turns not in PREDICT_TURNS:
            raise GalcatError(f"--predict-turns must be 1 or 4, got {turns}")
        self.rotations = int(turns)

    def describe(self) -> dict:
        """The facts needed to rebuild this network (saved in every checkpoint)."""
        return {
            "arch": self.arch,
            "embedding_dim": self.embedding_dim,
            "class_names": list(self.class_names),
            "scheme": self.scheme,
            "n_votes": self.n_votes,
            "image_size": self.image_size,
            "predictor": self.predictor,
            "knn_k": self.knn_k,
            "rotations": self.rotations,
            # an encoder's own input statistics, when they are not ImageNet's (the default)
            **(
                {"input_mean": list(self.input_mean), "input_std": list(self.input_std)}
                if self._renormalise
                else {}
            ),
        }


def build_network(meta: dict) -> GalaxyNet:
    """Rebuild a network from :meth:`GalaxyNet.describe` output (e.g. a checkpoint)."""
    return GalaxyNet(
        arch=meta["arch"],
        embedding_dim=int(meta["embedding_dim"]),
        class_names=list(meta.get("class_names") or []),
        scheme=meta.get("scheme"),
        n_votes=int(meta.get("n_votes") or 0),
        image_size=int(meta.get("image_size") or 75),
        predictor=meta.get("predictor"),
        knn_k=int(meta.get("knn_k") or 10),
        rotations=int(meta.get("rotations") or 1),  # checkpoints from before the option: one view
        input_mean=meta.get("input_mean"),
        input_std=meta.get("input_std"),
    )


def load_trunk_weights(model: GalaxyNet, path: str | Path) -> None:
    """Load user trunk weights (a state dict or ``.safetensors``, read with ``weights_only=True``).

    The classifier of a torchvision or timm checkpoint is ignored: galcat's heads replace it.
    """
    from galcat.model.encoders import load_trunk_state, read_weights

    load_trunk_state(model.trunk, read_weights(path), model.arch, str(path))


def transfer_weights(model: GalaxyNet, state_dict: dict, meta: dict) -> list[str]:
    """Copy an earlier stage's weights into ``model``; heads whose classes differ stay new.

    Returns the names of the parts that were transferred (for the log).
    """
    if meta.get("arch") != model.arch:
        raise GalcatError(f"--init checkpoint is a {meta.get('arch')} but this run uses {model.arch}")
    parts = ["trunk"]
    keep = {k: v for k, v in state_dict.items() if k.startswith("trunk.")}
    if int(meta.get("embedding_dim", -1)) == model.embedding_dim:
        keep.update({k: v for k, v in state_dict.items() if k.startswith("embed.")})
        parts.append("embed")
    else:  # only the first layer of the head has a fixed shape
        keep.update({k: v for k, v in state_dict.items() if k.startswith("embed.0.")})
        parts.append("embed.0")
    same_classes = list(meta.get("class_names") or []) == model.class_names and model.classifier is not None
    if same_classes and "embed" in parts:
        keep.update({k: v for k, v in state_dict.items() if k.startswith("classifier.")})
        parts.append("classifier")
    if model.votes is not None and int(meta.get("n_votes") or 0) == model.n_votes and "embed" in parts:
        keep.update({k: v for k, v in state_dict.items() if k.startswith("votes.")})
        parts.append("votes")
    model.load_state_dict(keep, strict=False)
    return parts
