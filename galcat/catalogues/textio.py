"""Read delimited text catalogues strictly: every malformed input is a GalcatError with its location.

pandas alone would silently pad a truncated row with NaN or read a comma file as one column;
so the header and every row's field count are checked first (wrong delimiter, short/long rows,
empty file), then pandas parses the checked text.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pandas as pd
from astropy.table import Table

from galcat.errors import GalcatError, where

_NAMES = {"whitespace": "whitespace", ",": "comma", ";": "semicolon", "\t": "tab"}


def _open_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise GalcatError(f"{path}: truncated or corrupt gzip file ({exc})") from None
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # spreadsheets' "Unicode text": UTF-16 with its BOM
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise GalcatError(f"{path}: damaged UTF-16 text (byte {exc.start})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GalcatError(f"{path}: not a UTF-8 (or UTF-16 with BOM) text table (byte {exc.start})") from None


def _split(line: str, delimiter: str) -> list[str]:
    if delimiter == "whitespace":
        return line.split()
    return next(csv.reader([line], delimiter=delimiter))


def _guess_delimiter(header: str) -> str | None:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    if counts[best]:
        return best
    return "whitespace" if len(header.split()) > 1 else None


def read_delimited(path, delimiter: str = ",", comment: str | None = None, dtype=None) -> Table:
    """Parse a delimited text table (plain or gzip) into an astropy Table after strict checks.

    ``delimiter``: ``"whitespace"``, ``","``, ``";"``, ``"\\t"`` or ``"auto"`` (guessed from the
    header line: comma, semicolon, tab, else whitespace). Rows are numbered from 1 after
    the header; messages also give the file line. ``dtype`` maps columns to pandas dtypes
    (e.g. ``{"GalaxyID": str}`` keeps ids exact).
    """
    path = Path(path)
    if not path.is_file():
        raise GalcatError(f"{path}: file not found")
    text = _open_text(path)
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1)]
    data = [
        (n, line) for n, line in lines if line.strip() and not (comment and line.lstrip().startswith(comment))
    ]
    if not data:
        raise GalcatError(f"{path}: empty file (no header line)")
    header_line_no, header_line = data[0]
    if delimiter == "auto":
        delimiter = _guess_delimiter(header_line) or ","
    header = [h.strip() for h in _split(header_line, delimiter)]
    found = _guess_delimiter(header_line)
    if len(header) <= 1 and found not in (None, delimiter):
        raise GalcatError(
            f"{path}, line {header_line_no}: header {header_line[:40]!r} has one column when read as "
            f"{_NAMES[delimiter]}-separated; it looks {_NAMES[found]}-separated (wrong delimiter?)"
        )
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise GalcatError(f"{path}, line {header_line_no}: duplicate column name(s) {dup} in header")
    if len(data) == 1:
        raise GalcatError(f"{path}: header but no data rows (empty or truncated file)")
    if delimiter == "whitespace":
        counts = (len(line.split()) for _, line in data[1:])
    else:
        counts = (len(fields) for fields in csv.reader((line for _, line in data[1:]), delimiter=delimiter))
    for row, ((line_no, _), n) in enumerate(zip(data[1:], counts, strict=False), start=1):
        if n != len(header):
            hint = " (truncated?)" if n < len(header) else " (wrong delimiter or unquoted field?)"
            raise GalcatError(
                f"{where(path, f'{row} (line {line_no})')}expected {len(header)} fields, found {n}{hint}"
            )
    body = "\n".join(line for _, line in data)
    sep = r"\s+" if delimiter == "whitespace" else delimiter
    frame = pd.read_csv(io.StringIO(body), sep=sep, dtype=dtype)
    frame.columns = header
    return Table.from_pandas(frame)


def require_column(table: Table, candidates, path, what: str) -> str:
    """The first candidate column present in ``table``; GalcatError naming file and column if none."""
    candidates = [candidates] if isinstance(candidates, str) else list(candidates)
    for name in candidates:
        if name in table.colnames:
            return name
    shown = ", ".join(table.colnames[:12]) + (" ..." if len(table.colnames) > 12 else "")
    raise GalcatError(
        f"{where(path, column=candidates[0])}missing {what} column (tried {candidates}); found {shown}"
    )
