"""Catalogue readers: every catalogue becomes the same standard astropy Table.

``read_catalogue(name, ...)`` dispatches to :func:`read_efigi`, :func:`read_rsa`,
:func:`read_gz2`, :func:`read_folder` and :func:`read_targets` (a user's list of names and/or
positions, unlabelled); each spec lives in ``galcat/catalogues/specs/<name>.toml``.
See docs/architecture.md ("Standard catalogue table") for the columns and meta keys.
"""

from __future__ import annotations

from galcat.catalogues.efigi import read_efigi
from galcat.catalogues.folder import read_folder
from galcat.catalogues.gz2 import read_gz2, vote_columns
from galcat.catalogues.labels import check_label_source
from galcat.catalogues.rsa import compact_name, read_rsa
from galcat.catalogues.spec import CATALOGUE_NAMES, CatalogueSpec, load_spec
from galcat.catalogues.standard import class_counts
from galcat.catalogues.targets import read_targets
from galcat.errors import GalcatError


def read_catalogue(
    name: str,
    source=None,
    labels: str = "rule",
    paper_labels=None,
    resolver=None,
    id_column: str | None = None,
    label_column: str | None = None,
    images=None,
    **target_options,
):
    """Read catalogue ``name`` ('efigi', 'rsa', 'gz2', 'folder', 'targets') into the standard table.

    ``labels``: 'rule' (the spec's documented rule) or 'paper' (``paper_labels`` = the paper's
    frozen table). ``resolver``: 'simbad' or 'openngc:PATH' for catalogues without positions.
    ``id_column`` / ``label_column`` override the spec's column candidates; ``images`` is the
    image directory of a folder. ``target_options`` (``frame``, ``equinox``, ``name_column``,
    ``ra_column``, ``dec_column``) go to :func:`read_targets` (``ra_column``/``dec_column`` also
    to folders). Options a catalogue cannot use are an error.

    Example::

        t = read_catalogue("efigi", "EFIGI_attributes.txt")
        t.meta["n_masked"], class_counts(t, "hubble9")
    """
    check_label_source(labels)
    unused = {
        "efigi": {"id_column": id_column, "label_column": label_column, "images": images},
        "rsa": {"images": images},
        "gz2": {"resolver": resolver, "id_column": id_column, "images": images},
        "folder": {"resolver": resolver, "paper_labels": paper_labels},
        "targets": {"paper_labels": paper_labels, "images": images},
    }
    if name not in unused:
        raise GalcatError(f"unknown catalogue {name!r}; known: {', '.join(CATALOGUE_NAMES)}")
    positions = {"ra_column", "dec_column"}
    takes = {"targets": {"frame", "equinox", "name_column", *positions}, "folder": positions}.get(name, set())
    extra = {k: v for k, v in target_options.items() if v is not None}
    given = [key for key, value in unused[name].items() if value is not None]
    given += sorted(set(extra) - takes)
    if given:
        raise GalcatError(f"catalogue {name!r} does not take {', '.join(given)}")
    if name == "efigi":
        return read_efigi(source, labels=labels, paper_labels=paper_labels, resolver=resolver)
    if name == "rsa":
        return read_rsa(
            source, labels, paper_labels, resolver, id_column=id_column, label_column=label_column
        )
    if name == "gz2":
        return read_gz2(source, labels=labels, paper_labels=paper_labels, label_column=label_column)
    if labels == "paper":
        raise GalcatError(f"catalogue {name!r} takes its labels from the label column, not --labels paper")
    if name == "targets":
        return read_targets(
            source, resolver=resolver, id_column=id_column, label_column=label_column, **extra
        )
    return read_folder(source, images=images, id_column=id_column, label_column=label_column, **extra)


def write_catalogue(name: str, out, *, overwrite: bool = False, **options):
    """Read catalogue ``name`` (``options`` as :func:`read_catalogue`) and write it to ``out``.

    The output format (from the extension) and ``overwrite`` are checked before the catalogue is
    read, so a typo fails before any download. Returns the table written.
    """
    from pathlib import Path

    from galcat.paths import check_writable, refuse_overwriting_inputs, table_kind
    from galcat.tables import table_format, write_table

    out = Path(out)
    table_format(out)
    inputs = {
        f"--{k.replace('_', '-')}": v for k, v in options.items() if k in ("source", "paper_labels", "images")
    }
    refuse_overwriting_inputs({"--out": out}, inputs)  # even with overwrite: never replace an input
    check_writable(out, kind=table_kind(out))
    if out.exists() and not overwrite:
        raise GalcatError(f"{out}: already exists; pass --overwrite to replace it")
    table = read_catalogue(name, **options)
    write_table(table, out, overwrite=overwrite)
    return table


__all__ = [
    "CATALOGUE_NAMES",
    "CatalogueSpec",
    "class_counts",
    "compact_name",
    "load_spec",
    "read_catalogue",
    "read_efigi",
    "read_folder",
    "read_gz2",
    "read_rsa",
    "read_targets",
    "vote_columns",
    "write_catalogue",
]
