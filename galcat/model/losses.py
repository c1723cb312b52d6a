"""Stage losses: the paper's label-smoothing CE and the pytorch-metric-learning losses/miners.

Every PML argument is passed by keyword: PML changed positional orders and defaults between
0.9.97 (the paper's) and 2.x, and a silently shifted argument is the bug the paper code hit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pytorch_metric_learning import distances, losses, miners, reducers, regularizers
from torch import nn

from galcat.errors import GalcatError


class LabelSmoothingCrossEntropy(nn.Module):
    """The paper's equations 1-2: target 1-eps on the true class and eps/(K-1) on the others.

    (``torch.nn.CrossEntropyLoss(label_smoothing=eps)`` spreads eps/K over *all* classes, the
    true one included, which is a different target.)
    """

    def __init__(self, epsilon: float = 0.1):
        super().__init__()
        if not 0.0 <= epsilon < 1.0:
            raise GalcatError(f"label smoothing epsilon must be in [0, 1), got {epsilon}")
        self.epsilon = epsilon

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, class_weights=None) -> torch.Tensor:
        """Mean loss; with ``class_weights`` (C,) the mean weighted by each sample's class weight."""
        n_classes = logits.shape[-1]
        log_probs = F.log_softmax(logits.float(), dim=-1)
        target = torch.full_like(log_probs, self.epsilon / max(n_classes - 1, 1))
        target.scatter_(1, labels.view(-1, 1), 1.0 - self.epsilon)
        per_sample = -(target * log_probs).sum(dim=-1)
        if class_weights is None:
            return per_sample.mean()
        w = class_weights[labels]
        return (w * per_sample).sum() / w.sum().clamp_min(1e-12)


def paper_distance():
    """``LpDistance(normalize_embeddings=True, p=2, power=1)``, the distance of the paper's DML code."""
    return distances.LpDistance(normalize_embeddings=True, p=2, power=1)


def make_dml_loss(name: str, n_classes: int, embedding_dim: int) -> nn.Module:
    """The pytorch-metric-learning losses as the paper's code (``myEfigiDML.py``) built them, by keyword."""
    if name == "contrastive":
        return losses.ContrastiveLoss(pos_margin=0.0, neg_margin=1.5, distance=paper_distance())
    if name == "triplet":
        return losses.TripletMarginLoss(
            margin=0.01, distance=paper_distance(), reducer=reducers.ThresholdReducer(low=0)
        )
    regularizer = regularizers.LpRegularizer(p=2)
    if name == "proxy-nca":
        return losses.ProxyNCALoss(
            num_classes=n_classes,
            embedding_size=embedding_dim,
            softmax_scale=1,
            reducer=reducers.ThresholdReducer(low=0),
            weight_regularizer=regularizer,
        )
    if name == "proxy-anchor":
        # PML 2.x refuses a non-Divisor reducer here (the paper used ThresholdReducer(low=0)).
        return losses.ProxyAnchorLoss(
            num_classes=n_classes,
            embedding_size=embedding_dim,
            margin=0.01,
            alpha=5,
            weight_regularizer=regularizer,
        )
    if name == "normalized-softmax":
        return losses.NormalizedSoftmaxLoss(
            num_classes=n_classes,
            embedding_size=embedding_dim,
            temperature=0.05,
            reducer=reducers.ThresholdReducer(low=0),
            weight_regularizer=regularizer,
        )
    raise GalcatError(f"unknown DML loss {name!r}")


def make_miner(name: str) -> nn.Module | None:
    """``pair`` = PairMarginMiner(0, 0.2); ``triplet`` = semihard TripletMarginMiner(0.01)."""
    if name == "pair":
        return miners.PairMarginMiner(pos_margin=0.0, neg_margin=0.2, distance=distances.LpDistance())
    if name == "triplet":
        return miners.TripletMarginMiner(margin=0.01, distance=paper_distance(), type_of_triplets="semihard")
    if name == "none":
        return None
    raise GalcatError(f"unknown miner {name!r}")


def proxy_parameter(loss: nn.Module) -> tuple[torch.nn.Parameter, bool]:
    """A proxy loss's learnable proxies and whether they are stored transposed, as (D, C)."""
    if isinstance(loss, losses.NormalizedSoftmaxLoss):
        return loss.W, True
    if isinstance(loss, (losses.ProxyNCALoss, losses.ProxyAnchorLoss)):
        return loss.proxies, False
    raise GalcatError(f"{type(loss).__name__} has no proxies")


def proxy_view(loss: nn.Module) -> tuple[torch.Tensor, float]:
    """(proxies (C, D), scale): the loss's class posterior is ``softmax(scale * cos(e, proxy))``.

    ProxyNCA: ``softmax(-s * |e - p|^2)`` on unit vectors is ``softmax(2 s cos)``; ProxyAnchor's
    similarities are scaled by ``alpha``; NormalizedSoftmax divides cosines by its temperature.
    """
    param, transposed = proxy_parameter(loss)
    proxies = (param.T if transposed else param).detach()
    if isinstance(loss, losses.ProxyNCALoss):
        return proxies, 2.0 * float(loss.softmax_scale)
    if isinstance(loss, losses.ProxyAnchorLoss):
        return proxies, float(loss.alpha)
    return proxies, 1.0 / float(loss.temperature)


@torch.no_grad()
def set_proxies(loss: nn.Module, proxies: torch.Tensor) -> None:
    """Overwrite a proxy loss's proxies with ``proxies`` (C, D), e.g. class centroids."""
    param, transposed = proxy_parameter(loss)
    param.copy_((proxies.T if transposed else proxies).to(param.dtype))
