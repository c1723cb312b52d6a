"""Table metadata in the FITS-plus convention, so TOPCAT and STILTS show galcat's provenance by name.

STIL (TOPCAT, STILTS) ignores ``HIERARCH`` cards and shows a long string's ``CONTINUE`` card as a
parameter of that name; FITS keywords also cap names at 8 characters. STIL's own FITS-plus
convention (``ofmt=fits-plus``) solves this without bending the FITS standard: the primary HDU is
a byte array (``BITPIX = 8``, ``NAXIS = 1``) holding a VOTable document with no data, whose
``PARAM`` elements carry the table's metadata whole (dicts as JSON) and whose ``FIELD`` elements
describe the ``BINTABLE`` columns in the next HDU (name, unit, UCD, description). The primary
header's fifth card must be ``VOTMETA = T``. Readers that do not know the convention (astropy,
fitsverify) see an ordinary byte array followed by the same table, whose header still carries
every keyword galcat's own reader uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from astropy.io import fits

from galcat.config import json_default

CARD = 80
#: BINTABLE TFORM letter -> VOTable datatype
_DATATYPES = {
    "L": "boolean", "X": "bit", "B": "unsignedByte", "I": "short", "J": "int", "K": "long",
    "A": "char", "E": "float", "D": "double", "C": "floatComplex", "M": "doubleComplex",
}  # fmt: skip


def _param(name: str, value) -> str:
    if isinstance(value, bool | np.bool_):
        datatype, text = "boolean", "T" if value else "F"
    elif isinstance(value, int | np.integer):
        datatype, text = "long", str(int(value))
    elif isinstance(value, float | np.floating):
        datatype, text = "double", repr(float(value))
    else:
        text = (
            json.dumps(value, default=json_default) if isinstance(value, dict | list | tuple) else str(value)
        )
        datatype = "char"
    size = ' arraysize="*"' if datatype == "char" else ""
    return (
        f"<PARAM name={quoteattr(str(name))} datatype={quoteattr(datatype)}{size} value={quoteattr(text)}/>"
    )


def _field(table_column, fits_column) -> str:
    """One FIELD: the original column name and metadata, the datatype and shape of the BINTABLE column."""
    fmt = fits_column.format
    letter = fmt.format if hasattr(fmt, "format") else str(fmt).lstrip("0123456789")[:1]
    repeat = int(getattr(fmt, "repeat", 1) or 1)
    datatype = _DATATYPES.get(str(letter), "char")
    dims = fits_column.dim
    if dims:
        shape = [int(d) for d in str(dims).strip("()").split(",") if d.strip()]
        size = "x".join(str(d) for d in shape)
    else:
        size = str(repeat) if repeat > 1 or datatype == "char" else ""
    attrs = [f"name={quoteattr(str(table_column.name))}", f"datatype={quoteattr(datatype)}"]
    if size:
        attrs.append(f"arraysize={quoteattr(size)}")
    if table_column.unit is not None:
        attrs.append(f"unit={quoteattr(table_column.unit.to_string())}")
    ucd = (table_column.meta or {}).get("ucd")
    if ucd:
        attrs.append(f"ucd={quoteattr(str(ucd))}")
    description = str(table_column.description or "")
    body = f"<DESCRIPTION>{escape(description)}</DESCRIPTION>" if description else ""
    return f"<FIELD {' '.join(attrs)}>{body}</FIELD>" if body else f"<FIELD {' '.join(attrs)}/>"


def votable_header(table, hdu: fits.BinTableHDU, name: str = "galcat") -> bytes:
    """The FITS-plus VOTable (UTF-8) describing ``hdu``: ``table``'s meta as PARAMs, its columns as FIELDs."""
    params = [_param(key, value) for key, value in table.meta.items()]
    fields = [_field(col, fcol) for col, fcol in zip(table.itercols(), hdu.columns, strict=True)]
    lines = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">',
        "<RESOURCE>",
        "<!-- Describes the BINTABLE extension in the following HDU (FITS-plus, as written by STIL). -->",
        f'<TABLE name={quoteattr(name)} nrows="{len(table)}">',
        *params,
        *fields,
        "</TABLE>",
        "</RESOURCE>",
        "</VOTABLE>",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def primary_hdu(xml: bytes) -> fits.PrimaryHDU:
    """The primary HDU of a FITS-plus file: the VOTable bytes, ``VOTMETA = T``."""
    hdu = fits.PrimaryHDU(data=np.frombuffer(xml, dtype=np.uint8))
    hdu.header["VOTMETA"] = (True, "Table metadata in VOTable format")
    hdu.header["NTABLE"] = (1, "Number of following BINTABLE HDUs")
    hdu.header.add_comment("The data of this HDU is a VOTable document describing the metadata")
    hdu.header.add_comment("of the table in the following BINTABLE extension (FITS-plus).")
    return hdu


def move_votmeta(path: Path) -> None:
    """Make ``VOTMETA`` the fifth card, as STIL requires (astropy puts ``EXTEND`` there).

    Swapping two whole cards leaves the HDU's checksum valid: the FITS checksum is a ones'
    complement sum of 32-bit words, and both cards start on a word boundary.
    """
    with open(path, "r+b") as handle:
        block = bytearray(handle.read(2880))
        cards = [bytes(block[i : i + CARD]) for i in range(0, len(block), CARD)]
        names = [c[:8].decode("ascii", "replace").strip() for c in cards]
        if "VOTMETA" not in names or names.index("VOTMETA") == 4:
            return
        a, b = 4, names.index("VOTMETA")
        block[a * CARD : (a + 1) * CARD], block[b * CARD : (b + 1) * CARD] = cards[b], cards[a]
        handle.seek(0)
        handle.write(block)
