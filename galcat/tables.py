"""Catalogue tables on disk: one ``write_table``/``read_table`` pair for every format galcat emits.

Why not plain ``Table.write``: it silently overwrites, leaves half-written files behind when
interrupted, drops dict-valued table metadata from FITS, and FITS readers other than astropy
(TOPCAT/STILTS) only see column UCDs and descriptions when they are written as the
``TUCDn``/``TCOMMn`` keywords. Those gaps are closed here.
"""

from __future__ import annotations

import json
import re
import unicodedata
import warnings
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.table import Column, MaskedColumn, Table

from galcat.atomic import atomic_path
from galcat.config import json_default
from galcat.errors import GalcatError, where
from galcat.fitsplus import move_votmeta, primary_hdu, votable_header

RA_UCD = "pos.eq.ra;meta.main"
DEC_UCD = "pos.eq.dec;meta.main"

_FORMATS = {
    ".fits": "fits",
    ".fit": "fits",
    ".fits.gz": "fits",
    ".fit.gz": "fits",
    ".vot": "votable",
    ".xml": "votable",
    ".votable": "votable",
    ".ecsv": "ascii.ecsv",
    ".parquet": "parquet",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".csv": "ascii.csv",
    ".hats": "hats",  # a HEALPix-partitioned Parquet directory, through lsdb (galcat.hats)
}
_JSON_META_KEY = "GCJSON"  # FITS header: names of table.meta entries stored as JSON strings
_NAMES_META_KEY = "GCNAMES"  # FITS header: {written column name: original name} for renamed columns
_ESCAPED_META_KEY = "GCESCAPE"  # FITS header: string columns whose non-ASCII text is escaped
_DESCRIPTIONS_META_KEY = "GCDESC"  # FITS header: descriptions of columns whose TCOMMn says more
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_]+")


#: characters that are invisible at the ends of an id or a name: Unicode whitespace (str.isspace:
#: space, tab, NBSP, em space, ideographic space, ...) plus the zero-width ones and the BOM
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_INNER_SPACE = re.compile(r"[^\S ]|[\u200b\u200c\u200d\u2060\ufeff]")


def clean_text(value) -> str:
    """An id or a name as galcat compares it: NFC, no invisible ends, every inner space an ASCII one.

    Every reader (catalogues, target lists) and the store builder call this one function, so
    ``'5877\\xa0'`` typed in a spreadsheet and ``'5877'`` from an image source are the same object.
    Masked or None values become ``''``.
    """
    if value is None or value is np.ma.masked:
        return ""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    text = unicodedata.normalize("NFC", text)
    text = text.strip().strip(_INVISIBLE).strip()
    return _INNER_SPACE.sub(lambda m: "" if m.group() in _INVISIBLE else " ", text)


def table_format(path) -> str:
    """The astropy format name for ``path``'s extension, or GalcatError listing the known ones."""
    name = Path(path).name.lower()
    for suffix in sorted(_FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return _FORMATS[suffix]
    raise GalcatError(f"{where(path)}unknown table format; use one of {', '.join(sorted(_FORMATS))}")


def annotate_position_columns(table: Table, ra: str = "ra", dec: str = "dec") -> Table:
    """Give ``ra``/``dec`` unit deg and the main-position UCDs so TOPCAT's sky match finds them."""
    for name, ucd in ((ra, RA_UCD), (dec, DEC_UCD)):
        if name not in table.colnames:
            raise GalcatError(f"{where(column=name)}position column missing (have {table.colnames})")
        table[name].unit = u.deg
        table[name].meta["ucd"] = ucd
    return table


def write_table(table: Table, path, overwrite: bool = False) -> Path:
    """Write ``table`` in the format named by the extension, atomically (temp file + rename)."""
    path = Path(path)
    fmt = table_format(path)
    if fmt == "hats":
        from galcat.hats import write_hats

        return write_hats(table, path, overwrite=overwrite)
    if path.exists() and not overwrite:
        raise GalcatError(f"{where(path)}already exists; pass overwrite=True (--overwrite) to replace it")
    if not path.parent.exists():
        raise GalcatError(f"{where(path.parent)}output folder does not exist")
    if fmt == "ascii.csv" and any(col.ndim > 1 for col in table.itercols()):
        raise GalcatError(f"{where(path)}CSV cannot hold vector columns; use .ecsv, .fits or .vot")
    with atomic_path(path) as tmp:
        if fmt == "fits":
            _write_fits(table, tmp, path.name)
        elif fmt == "hdf5":
            table.write(tmp, format="hdf5", path="data", serialize_meta=True, overwrite=True)
        elif fmt == "votable":
            _write_votable(table, tmp)
        else:
            table.write(tmp, format=fmt, overwrite=True)
    return path


def safe_column_names(names) -> list[str]:
    """Column names every FITS/VOTable checker accepts, in order and unique ignoring case.

    FITS (fitsverify) wants ``TTYPEn`` made of letters, digits and underscores and unique without
    regard to case; VOTable ``ID`` attributes must be XML names. ``New type`` -> ``New_type``,
    ``E3-5`` -> ``E3_5``, ``3col`` -> ``c3col``, and the second of ``objid``/``OBJID`` -> ``OBJID_2``.
    """
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        safe = _NAME_CHARS.sub("_", str(name).encode("ascii", "ignore").decode()).strip("_") or "col"
        if not safe[0].isalpha():
            safe = "c" + safe
        candidate, k = safe, 2
        while candidate.lower() in seen:
            candidate, k = f"{safe}_{k}", k + 1
        seen.add(candidate.lower())
        out.append(candidate)
    return out


def _ascii_escape(text: str) -> str:
    """Lossless ASCII form of ``text`` (Python escapes; backslashes doubled), undone on reading."""
    return text.encode("unicode_escape").decode("ascii")


def _ascii_unescape(text: str) -> str:
    return text.encode("ascii").decode("unicode_escape")


def _non_ascii_strings(col) -> bool:
    if col.dtype.kind == "U":
        return not all(str(v).isascii() for v in np.ravel(np.ma.filled(col, "")))
    if col.dtype.kind == "O":
        return any(isinstance(v, str) and not v.isascii() for v in np.ravel(np.ma.filled(col, "")))
    return False


def _escaped_column(col):
    """The string column with every value in its lossless ASCII form (FITS strings are ASCII)."""
    values = np.ma.filled(col, "")
    escaped = np.array([_ascii_escape(str(v)) for v in np.ravel(values)]).reshape(np.shape(values))
    if np.ma.isMaskedArray(col) and np.ma.getmaskarray(col).any():
        return np.ma.array(escaped, mask=np.ma.getmaskarray(col))
    return escaped


def _header_text(value) -> str:
    text = str(value)
    return text if text.isascii() else _ascii_escape(text)


def _column_comments(table: Table, safe: list[str], escaped: list[str]):
    """``TCOMMn`` texts (description, original name, escaping note) and the descriptions they alter."""
    comments, descriptions = [], {}
    for col, name in zip(table.itercols(), safe, strict=True):
        description = str(col.description) if col.description else ""
        parts = [description] if description else []
        if name != col.name:
            parts.append(f"original column name {col.name!r}")
        if col.name in escaped:
            parts.append("non-ASCII text as Python escapes")
        comment = _header_text("; ".join(parts))
        if comment != description:
            descriptions[name] = description
        comments.append(comment)
    return comments, descriptions


def _fixed_width_text(table: Table) -> None:
    """Object columns of text (a VOTable's ``arraysize="*"`` strings) as fixed-width strings, in place:
    a FITS binary table has no variable-length text."""
    for name in [c for c in table.colnames if table[c].dtype.kind == "O"]:
        col = table[name]
        mask = np.ma.getmaskarray(col)
        values = [v for v, m in zip(np.ravel(np.ma.getdata(col)), np.ravel(mask), strict=True) if not m]
        if not all(isinstance(v, str | bytes | np.str_ | np.bytes_) for v in values):
            raise GalcatError(
                f"{where(column=name)}holds variable-length values a FITS table cannot store; "
                "write .vot, .ecsv or .parquet"
            )
        text = [
            v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
            for v in np.ravel(np.ma.getdata(col))
        ]
        data = np.array([t if not m else "" for t, m in zip(text, np.ravel(mask), strict=True)], dtype=str)
        data = data.reshape(col.shape)
        new = MaskedColumn(data, mask=mask) if mask.any() else Column(data)
        new.info.description, new.info.unit, new.info.meta = (
            col.info.description,
            col.info.unit,
            col.info.meta,
        )
        table.replace_column(name, new, copy=False)


def _units_fits_cannot_scale(table: Table) -> dict[int, str]:
    """{column number: unit text} for units such as ``hourangle`` that astropy refuses to write as
    FITS units; they are dropped from ``table`` (in place) and written as plain ``TUNITn`` text."""
    free = {}
    for i, col in enumerate(table.itercols(), start=1):
        if col.unit is None:
            continue
        try:
            col.unit.to_string(format="fits")
        except (ValueError, u.UnitsError):
            free[i] = col.unit.to_string()
            col.unit = None
    return free


def _write_fits(table: Table, path: Path, name: str) -> None:
    out = table.copy(copy_data=False)
    _fixed_width_text(out)
    json_keys = []
    for key, value in list(out.meta.items()):
        if isinstance(value, dict | list | tuple) or (
            isinstance(value, str) and ("\n" in value or not value.isascii())
        ):
            out.meta[key] = json.dumps(value, default=json_default)  # ensure_ascii: non-ASCII becomes \uXXXX
            json_keys.append(key)
    escaped = [name for name in out.colnames if _non_ascii_strings(out[name])]
    for name in escaped:
        out.replace_column(name, _escaped_column(out[name]), copy=False)
    safe = safe_column_names(out.colnames)
    renamed = {new: old for old, new in zip(out.colnames, safe, strict=True) if new != old}
    if renamed:
        out.rename_columns(list(renamed.values()), list(renamed.keys()))
        out.meta[_NAMES_META_KEY] = json.dumps(renamed)
        json_keys.append(_NAMES_META_KEY)
    if escaped:
        out.meta[_ESCAPED_META_KEY] = json.dumps(escaped)
        json_keys.append(_ESCAPED_META_KEY)
    comments, descriptions = _column_comments(table, safe, escaped)
    if descriptions:  # the exact descriptions of columns whose TCOMM carries more than that
        out.meta[_DESCRIPTIONS_META_KEY] = json.dumps(descriptions)
        json_keys.append(_DESCRIPTIONS_META_KEY)
    if json_keys:
        out.meta[_JSON_META_KEY] = json.dumps(json_keys)
    free_units = _units_fits_cannot_scale(out)
    with warnings.catch_warnings():  # long meta keys become HIERARCH cards, which is what we want
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)
        warnings.simplefilter("ignore", u.UnitsWarning)  # a user's h:m:s unit is kept as written
        hdu = fits.table_to_hdu(out)
    for i, text in free_units.items():
        hdu.header[f"TUNIT{i}"] = _header_text(text)
    for i, col in enumerate(table.itercols(), start=1):
        ucd = col.meta.get("ucd") if col.meta else None
        if ucd:
            hdu.header[f"TUCD{i}"] = _header_text(ucd)
        if comments[i - 1]:
            hdu.header[f"TCOMM{i}"] = comments[i - 1]
    if any(card.keyword == "CONTINUE" for card in hdu.header.cards) or any(
        len(str(card.value)) > 68 for card in hdu.header.cards if isinstance(card.value, str)
    ):  # long strings use the OGIP CONTINUE convention, which fitsverify wants declared
        hdu.header["LONGSTRN"] = ("OGIP 1.0", "The OGIP long string convention may be used.")
    primary = primary_hdu(votable_header(table, hdu, name))  # what TOPCAT/STILTS show (galcat.fitsplus)
    fits.HDUList([primary, hdu]).writeto(path, overwrite=True, checksum=True)
    move_votmeta(path)


def _write_votable(table: Table, path: Path) -> None:
    from astropy.io.votable.tree import Info, VOTableFile

    safe = safe_column_names(table.colnames)
    with warnings.catch_warnings():  # W03 (IDs made up from names) is avoided by setting them below
        warnings.simplefilter("ignore")
        votable = VOTableFile.from_table(table)
    resource_table = votable.get_first_table()
    for field_, name in zip(resource_table.fields, safe, strict=True):
        field_.ID = name  # a valid, unique XML ID; ``name`` keeps the original column name
    for key, value in table.meta.items():
        if isinstance(value, dict | list | tuple):
            value = json.dumps(value, default=json_default)
        resource_table.infos.append(Info(name=str(key), value=str(value)))
    votable.to_xml(str(path))


def read_table(path) -> Table:
    """Read a table written by :func:`write_table` (or any file of a known extension)."""
    path = Path(path)
    fmt = table_format(path)
    if not path.exists():
        raise GalcatError(f"{where(path)}file not found")
    if path.stat().st_size == 0:
        raise GalcatError(f"{where(path)}file is empty")
    try:
        if fmt == "hats":
            from galcat.hats import read_hats

            return read_hats(path)
        with warnings.catch_warnings():  # VizieR's h:m:s / d:m:s units: galcat.coords reads them
            warnings.simplefilter("ignore", u.UnitsWarning)
            if fmt == "fits":
                return _read_fits(path)
            if fmt == "votable":
                return _read_votable(path)
            kwargs = {"path": "data"} if fmt == "hdf5" else {}
            return Table.read(path, format=fmt, **kwargs)
    except GalcatError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure means a bad file
        raise GalcatError(f"{where(path)}cannot read as {fmt}: {exc}") from None


def _read_fits(path: Path) -> Table:
    table = Table.read(path, format="fits")
    with fits.open(path) as hdul:
        hdu = next((h for h in hdul if isinstance(h, fits.BinTableHDU | fits.TableHDU)), None)
        header = hdu.header if hdu is not None else {}
    for i, col in enumerate(table.itercols(), start=1):
        if f"TUCD{i}" in header and not col.meta.get("ucd"):
            col.meta["ucd"] = header[f"TUCD{i}"]
        if f"TCOMM{i}" in header and not col.description:
            col.description = header[f"TCOMM{i}"]
    for key in json.loads(table.meta.pop(_JSON_META_KEY, "[]")):
        stored = key if key in table.meta else key.upper()  # keys of <= 8 characters come back upper case
        if stored in table.meta:
            table.meta[key] = json.loads(table.meta.pop(stored))
    for name, description in table.meta.pop(_DESCRIPTIONS_META_KEY, {}).items():
        if name in table.colnames:
            table[name].description = description or None
    renamed = table.meta.pop(_NAMES_META_KEY, {})
    for name in table.meta.pop(_ESCAPED_META_KEY, []):
        written = next((new for new, old in renamed.items() if old == name), name)
        if written in table.colnames:
            _unescape_column(table, written)
    if renamed:
        present = [new for new in renamed if new in table.colnames]
        table.rename_columns(present, [renamed[new] for new in present])
    for key in [
        k for k in table.meta if k.startswith(("TUCD", "TCOMM")) or k in ("CHECKSUM", "DATASUM", "LONGSTRN")
    ]:
        del table.meta[key]
    return table


def _unescape_column(table: Table, name: str) -> None:
    col = table[name]
    values = np.ma.filled(col, "")
    plain = np.array([_ascii_unescape(str(v)) for v in np.ravel(values)]).reshape(np.shape(values))
    mask = np.ma.getmaskarray(col)
    table.replace_column(name, np.ma.array(plain, mask=mask) if mask.any() else plain)
    table[name].info.description = col.info.description
    table[name].info.meta = col.info.meta


def _read_votable(path: Path) -> Table:
    from astropy.io import votable

    parsed = votable.parse(str(path), verify="ignore")
    vtable = parsed.get_first_table()
    table = vtable.to_table(use_names_over_ids=True)
    for info in vtable.infos:
        value = info.value
        if isinstance(value, str) and value[:1] in "{[":
            try:
                value = json.loads(value)
            except ValueError:
                pass
        table.meta[info.name] = value
    return table


def ensure_columns(table: Table, columns, path=None) -> None:
    """GalcatError naming the first missing column (used by readers and the CLI)."""
    for name in columns:
        if name not in table.colnames:
            raise GalcatError(f"{where(path, column=name)}column missing (have {', '.join(table.colnames)})")


def finite_positions(table: Table, ra: str = "ra", dec: str = "dec", path=None) -> np.ndarray:
    """Boolean mask of rows with a usable position; GalcatError for NaN/out-of-range unmasked values."""
    ensure_columns(table, (ra, dec), path)
    ra_v = np.ma.filled(np.ma.asarray(table[ra], dtype=float), np.nan)
    dec_v = np.ma.filled(np.ma.asarray(table[dec], dtype=float), np.nan)
    masked = np.ma.getmaskarray(table[ra]) | np.ma.getmaskarray(table[dec])
    bad = ~masked & (~np.isfinite(ra_v) | ~np.isfinite(dec_v) | (np.abs(dec_v) > 90))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        column = ra if not np.isfinite(ra_v[row]) else dec
        raise GalcatError(
            f"{where(path, row + 1, column)}invalid position ({ra_v[row]}, {dec_v[row]}); "
            "mask unknown positions instead of using NaN"
        )
    return ~masked
