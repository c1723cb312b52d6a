"""End to end: build_store from a SkyServer ImgCutout source behind a faulty local server.

The server plays SkyServer with real Galaxy Zoo JPEG bytes and about 20 % faulty answers; the
store must hold exactly the non-blank rows, each equal to the store's own preprocessing of the
served bytes, and a second build over the same cache must not touch the network.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from astropy.table import Table
from helpers.faulty_server import FAULT_KINDS, FaultyImageServer, position_key
from PIL import Image

from galcat.images import HttpConfig, SkyServerSource
from galcat.store import BuildConfig, PreprocessConfig, build_store, open_store, preprocess

N_ROWS = 40
BLANK_ROWS = (5, 18, 33)
FAST = HttpConfig(
    timeout=1.0, total_timeout=2.0, retries=5, backoff=0.001, max_backoff=0.01, max_retry_after=0.01
)


@pytest.fixture(scope="module")
def sky(shared_data):
    files = sorted((shared_data / "gz2" / "kaggle" / "images").glob("*.jpg"))[N_ROWS : 2 * N_ROWS]
    table = Table()
    table["objid"] = [f.stem for f in files]
    table["ra"] = 180.0 + 0.02 * np.arange(N_ROWS)
    table["dec"] = -1.0 + 0.015 * np.arange(N_ROWS)
    table["hubble9"] = ["Sc" if i % 2 else "E" for i in range(N_ROWS)]
    table.meta.update(catalogue="sky-test", label_schemes={"hubble9": ["E", "Sc"]})
    keys = [position_key(r, d) for r, d in zip(table["ra"], table["dec"], strict=True)]
    blank = {keys[i] for i in BLANK_ROWS}
    images = {k: f.read_bytes() for k, f in zip(keys, files, strict=True) if k not in blank}
    good = [k for i, k in enumerate(keys) if i not in BLANK_ROWS]
    faults = {good[2 + 3 * i]: [kind] for i, kind in enumerate(FAULT_KINDS)}  # 9 faulty of ~49 requests
    return table, keys, images, blank, faults


def test_build_from_faulty_skyserver_then_rebuild_from_cache(tmp_path, sky):
    table, keys, images, blank, faults = sky
    cfg = BuildConfig(
        name="sky",
        service="skyserver",
        release=17,
        scale=0.396,
        pixels=424,
        workers=8,
        preprocess=PreprocessConfig(size=32),
    )
    with FaultyImageServer(images, faults=faults, blank=blank, slow_seconds=2.5) as server:

        def source():
            return SkyServerSource(base_url=server.url, pixels=424, cache=tmp_path / "cache", http=FAST)

        summary = build_store(table, source(), tmp_path / "sky.h5", cfg)
        n_requests = len(server.log)
        assert sum(1 for r in server.log if r.fault) == len(FAULT_KINDS)
        assert n_requests == N_ROWS + len(FAULT_KINDS)  # one retry per fault, nothing fetched twice
        assert (summary.n_rows, summary.n_stored) == (N_ROWS, N_ROWS - len(BLANK_ROWS))
        assert summary.status_counts == {"ok": N_ROWS - 3, "blank": 3}

        store = open_store(tmp_path / "sky.h5")
        kept = [i for i in range(N_ROWS) if i not in BLANK_ROWS]
        assert list(store.catalogue["objid"]) == [table["objid"][i] for i in kept]  # no loss, no duplicate
        stored = store.read_images(slice(0, len(store)))
        for pos, row in enumerate(kept):
            served = images[keys[row]]
            with Image.open(io.BytesIO(served)) as im:
                expected = preprocess(np.asarray(im.convert("RGB")), cfg.preprocess)
            assert np.array_equal(stored[pos], expected)
            assert store.provenance("sha256")[pos] == hashlib.sha256(served).hexdigest()
        assert set(store.provenance("status")) == {"ok"}
        failures = Table.read(summary.failures_path, format="ascii.ecsv")
        assert list(failures["row"]) == list(BLANK_ROWS) and set(failures["status"]) == {"blank"}
        first_fingerprint = store.fingerprint
        store.close()

        again = build_store(table, source(), tmp_path / "sky2.h5", cfg)
        assert len(server.log) == n_requests  # the second build downloaded nothing
        assert again.status_counts == {"cached": N_ROWS - 3, "blank": 3}
        rebuilt = open_store(tmp_path / "sky2.h5")
        assert rebuilt.fingerprint == first_fingerprint
        assert set(rebuilt.provenance("status")) == {"cached"}
