"""One exception type for user errors.

Anything the user can fix (a bad file, a missing column, an unreachable service) raises
:class:`GalcatError` with a message that names the file, row and column. The CLI prints that
message as one line and exits with code 2; any other exception is a bug and may traceback.
"""

from __future__ import annotations


class GalcatError(Exception):
    """A user-facing error: bad input, missing data, unreachable service."""


class NetworkError(GalcatError):
    """A remote service could not be reached or answered with an error."""


def where(path=None, row=None, column=None) -> str:
    """Format a location prefix like ``file.csv, row 12, column 'T':`` for error messages.

    ``row`` is counted from 1, as a user counts the data rows of a table (every galcat message).
    """
    parts = []
    if path is not None:
        parts.append(str(path))
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column {column!r}")
    return (", ".join(parts) + ": ") if parts else ""
