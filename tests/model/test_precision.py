"""``--precision``: bf16 forward passes where the device is fast at them, fp32 elsewhere."""

from __future__ import annotations

import json

import pytest
import torch

from galcat.errors import GalcatError
from galcat.model import TrainConfig, train
from galcat.model.config import resolve_config
from galcat.model.device import autocast, memory_format

CLASSES = ["E", "Sc", "Irr"]
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from galcat.synth import make_synthetic_store

    return make_synthetic_store(tmp_path_factory.mktemp("synth") / "s.h5", CLASSES, n_per_class=8, size=32)


def test_default_precision_follows_the_device(monkeypatch):
    import galcat.model.device as device

    monkeypatch.setattr(device, "cpu_bf16_supported", lambda: False)
    assert resolve_config(TrainConfig(store="s"), "cpu", 64).precision == "fp32"
    monkeypatch.setattr(device, "cpu_bf16_supported", lambda: True)
    assert resolve_config(TrainConfig(store="s"), "cpu", 64).precision == "bf16"
    assert resolve_config(TrainConfig(store="s"), "cuda", 64).precision == "bf16"
    assert resolve_config(TrainConfig(store="s"), "mps", 64).precision == "fp32"
    assert resolve_config(TrainConfig(store="s", precision="fp32"), "cuda", 64).precision == "fp32"
    with pytest.raises(GalcatError, match="--precision 'fp16' is not one of bf16, fp32"):
        resolve_config(TrainConfig(store="s", precision="fp16"), "cpu", 64)


def test_cpu_autocast_and_layout_follow_the_precision():
    conv = torch.nn.Conv2d(3, 4, 3)
    x = torch.randn(2, 3, 8, 8)
    with autocast(CPU, "bf16"):
        assert conv(x).dtype == torch.bfloat16
    with autocast(CPU, "fp32"):
        assert conv(x).dtype == torch.float32
    with autocast(CPU):  # inference keeps fp32 on CPU unless asked
        assert conv(x).dtype == torch.float32
    assert memory_format(CPU, "bf16") == torch.channels_last
    assert memory_format(CPU, "fp32") == memory_format(CPU) == torch.contiguous_format


def test_bf16_training_learns_and_resumes_in_fp32(store, tmp_path, monkeypatch):
    """A bf16 run lowers its training loss; its interruption may resume in fp32 (a speed setting,
    like --device), and config.json records the precision the run continued with."""
    import galcat.model.loop as loop

    base = dict(store=str(store), out=str(tmp_path / "run"), folds=1, val_fraction=0.25, batch_size=6,
                embedding_dim=16, progress=False, stage="ce", lr=1e-3, epochs=4)  # fmt: skip
    real_run_epoch, calls = loop.run_epoch, []

    def interrupted(*args, **kw):
        calls.append(kw["precision"])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_run_epoch(*args, **kw)

    monkeypatch.setattr(loop, "run_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(precision="bf16", **base))
    assert calls == ["bf16"] * 3
    monkeypatch.setattr(loop, "run_epoch", real_run_epoch)
    result = train(TrainConfig(precision="fp32", **base))
    assert result.config.precision == "fp32"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["precision"] == "fp32"
    log = [json.loads(ln) for ln in (tmp_path / "run" / "fold0" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [0, 1, 2, 3]
    assert log[-1]["train_loss"] < log[0]["train_loss"]
