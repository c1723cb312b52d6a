"""``galcat build`` as one function: a :class:`BuildConfig` in, a finished store out.

The config names the catalogue (a galcat table or a raw catalogue and its reader options), the
pixels (a local archive or a cutout service) and the preprocessing; this function reads the
catalogue, makes the pixel source, records the values the source really uses (service defaults
included) in the config, and runs the resumable :func:`~galcat.store.build.build_store`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from galcat.store.build import BuildConfig, BuildSummary, build_store, check_build_config, check_build_paths


def default_store_path(name: str) -> Path:
    """``stores/NAME.h5``, where ``galcat build`` writes when ``--out`` is not given."""
    return Path("stores") / f"{name}.h5"


def build_from_config(
    config: BuildConfig, out: str | os.PathLike | None = None, *, base_url: str | None = None, http=None
) -> BuildSummary:
    """Build (or resume) the store ``out`` described by ``config``.

    ``base_url`` (a service mirror) and ``http`` (retry settings) change where pixels come from,
    not what they are, so they are not part of the config. Option ranges and output paths are
    checked before the catalogue is read, so a typo fails in a second, not after a download.
    """
    from galcat.catalogues.select import load_catalogue
    from galcat.images import make_source, source_settings
    from galcat.tables import read_table

    out = Path(out) if out is not None else default_store_path(config.name)
    check_build_config(config)
    check_build_paths(out, config)
    table = load_catalogue(
        config.name, config.catalogue, images=config.images if config.name == "folder" else None,
        labels=config.labels, paper_labels=config.paper_labels,
        resolver=config.resolver, id_column=config.id_column, label_column=config.label_column,
    )  # fmt: skip
    exclude = read_table(config.exclude) if config.exclude is not None else None
    source = make_source(
        config.service, config.images, image_key=table.meta.get("image_key", "objid"),
        release=config.release, scale=config.scale, pixels=config.pixels, base_url=base_url, http=http,
    )  # fmt: skip
    used = dataclasses.replace(
        config, service=None if config.images is not None else (config.service or "skyserver"),
        **source_settings(source),
    )  # fmt: skip
    return build_store(table, source, out, used, exclude=exclude)
