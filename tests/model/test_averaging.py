"""The weight average (``--ema-epochs``): its decay, its update, and a run that saves it."""

from __future__ import annotations

import pytest
import torch

from galcat.model import TrainConfig, train
from galcat.model.averaging import ema_decay, make_average

CLASSES = ["E", "Sc", "Irr"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from galcat.synth import make_synthetic_store

    return make_synthetic_store(tmp_path_factory.mktemp("synth") / "s.h5", CLASSES, n_per_class=8, size=32)


def test_decay_has_the_asked_time_constant_in_epochs():
    assert ema_decay(1.0, 100) == pytest.approx(0.99)
    assert ema_decay(0.5, 40) == pytest.approx(0.95)
    assert ema_decay(0.0, 100) == 0.0
    assert make_average(torch.nn.Linear(2, 2), 0.0, 100) is None


def test_update_is_an_exponential_average_by_hand():
    net = torch.nn.Linear(3, 1)
    avg = make_average(net, ema_epochs=1.0, steps_per_epoch=4)  # decay 0.75
    first = net.weight.detach().clone()
    avg.update_parameters(net)  # the first update copies
    with torch.no_grad():
        net.weight.add_(4.0)
    avg.update_parameters(net)
    expected = 0.75 * first + 0.25 * (first + 4.0)
    assert torch.allclose(avg.module.weight, expected)
    assert not torch.allclose(avg.module.weight, net.weight)  # the live weights are untouched
    state = avg.state_dict()
    other = make_average(torch.nn.Linear(3, 1), ema_epochs=1.0, steps_per_epoch=4)
    other.load_state_dict(state)
    assert torch.allclose(other.module.weight, expected)


def test_run_saves_the_average_as_best_and_resumes_it(store, tmp_path, monkeypatch):
    """best.pt holds the averaged weights, last.pt the live ones plus the average; an interrupted
    run resumed gives the same best weights as an uninterrupted one."""
    import galcat.model.loop as loop

    base = dict(store=str(store), folds=1, val_fraction=0.25, epochs=2, batch_size=6, max_steps=3,
                embedding_dim=16, progress=False, stage="ce", ema_epochs=1.0)  # fmt: skip
    monkeypatch.setattr(loop, "improved", lambda *a: True)  # every epoch is the best: best.pt is the last
    whole = train(TrainConfig(out=str(tmp_path / "whole"), **base))
    assert whole.config.ema_epochs == 1.0
    last = torch.load(tmp_path / "whole" / "fold0" / "last.pt", weights_only=True)
    best = torch.load(tmp_path / "whole" / "fold0" / "best.pt", weights_only=True)
    assert best["epoch"] == last["epoch"] == 1
    weights = [k for k, v in best["state_dict"].items() if v.is_floating_point() and "running" not in k]
    assert len(weights) > 10
    for name in weights:
        assert torch.equal(best["state_dict"][name], last["average"]["module." + name]), name
    assert any(not torch.equal(last["state_dict"][n], last["average"]["module." + n]) for n in weights)

    real_run_epoch, calls = loop.run_epoch, []

    def interrupted(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run_epoch(*args, **kw)

    monkeypatch.setattr(loop, "run_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(out=str(tmp_path / "resumed"), **base))
    monkeypatch.setattr(loop, "run_epoch", real_run_epoch)
    train(TrainConfig(out=str(tmp_path / "resumed"), **base))
    again = torch.load(tmp_path / "resumed" / "fold0" / "last.pt", weights_only=True)
    for k, v in last["average"].items():
        assert torch.allclose(v, again["average"][k], atol=1e-6), k
