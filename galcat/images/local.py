"""Images already on disk: the EFIGI PNG distribution, Galaxy Zoo JPEG folders, labelled folders.

Files are matched by the catalogue's id through a name pattern (``"{key}"`` by default; EFIGI
``PGC0000212.png``, GZ ``587722952767439450.jpeg``); ``"PGC{key:0>7}"`` pads a bare PGC number.
Names and extensions match case-insensitively, so archives copied from Windows or macOS work.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from galcat.errors import GalcatError
from galcat.images.base import classify, row_objid, row_value
from galcat.images.result import FetchResult
from galcat.images.validate import InvalidPayload, decode_image, sha256_hex

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff")


class ArchiveIndex:
    """One listing of an image folder, matched by name case-insensitively.

    Every reader of a local archive (the folder catalogue reader, the pixel source, the build's
    ``--present-only``) asks this index, so a file is found, or reported missing, the same way
    everywhere: ``Gal_One.JPG`` is the image of id ``gal_one``.
    """

    def __init__(self, directory: str | os.PathLike, extensions=IMAGE_EXTENSIONS, recursive: bool = False):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise GalcatError(f"{self.directory}: image archive folder does not exist")
        self.extensions = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)
        self._index: dict[str, Path] = {}
        entries = self.directory.rglob("*") if recursive else self.directory.iterdir()
        for path in sorted(entries):
            if path.suffix.lower() in self.extensions and path.is_file():
                self._index.setdefault(path.name.lower(), path)

    def __len__(self) -> int:
        return len(self._index)

    def find(self, name: str) -> Path | None:
        """The file named ``name`` (any case), with its extension or with any allowed one appended."""
        lowered = str(name).lower()
        if Path(lowered).suffix in self.extensions and lowered in self._index:
            return self._index[lowered]
        for ext in self.extensions:
            if lowered + ext in self._index:
                return self._index[lowered + ext]
        return None


class LocalArchiveSource:
    """``fetch`` reads ``directory/<pattern.format(key=...)><ext>``; a missing file is 'failed'."""

    name = "local"

    def __init__(
        self,
        directory: str | os.PathLike,
        pattern: str = "{key}",
        key: str | None = None,
        extensions: tuple[str, ...] = IMAGE_EXTENSIONS,
        recursive: bool = False,
        expected_size: tuple[int, int] | None = None,
    ):
        self.archive = ArchiveIndex(directory, extensions, recursive)
        self.directory = self.archive.directory
        self.extensions = self.archive.extensions
        self.pattern = pattern
        self.key = key
        self.expected_size = expected_size

    def __len__(self) -> int:
        return len(self.archive)

    def _key_column(self, row: Any) -> str:
        if self.key:
            return self.key
        table = getattr(row, "table", None)
        meta = getattr(table, "meta", None) or {}
        return meta.get("image_key", "objid")

    def file_name(self, row_index: int, row: Any) -> str:
        """The expected file name (extension optional) for one row."""
        column = self._key_column(row)
        value = row_value(row, column)
        if value is None:
            raise GalcatError(f"row {row_index}, column {column!r}: no image id (missing or masked)")
        try:
            return self.pattern.format(key=str(value).strip(), objid=row_objid(row_index, row))
        except (KeyError, IndexError, ValueError) as exc:
            raise GalcatError(
                f"image name pattern {self.pattern!r} does not fit row {row_index}: {exc}"
            ) from None

    def find(self, name: str) -> Path | None:
        return self.archive.find(name)

    def fetch(self, row_index: int, row: Any) -> FetchResult:
        objid = row_objid(row_index, row)
        try:
            name = self.file_name(row_index, row)
        except GalcatError as exc:
            return FetchResult(objid, row_index, "failed", origin=str(self.directory), error=str(exc))
        path = self.find(name)
        if path is None:
            wanted = self.directory / name
            return FetchResult(
                objid,
                row_index,
                "failed",
                origin=str(wanted),
                error=f"{wanted}: no image file for objid {objid} "
                f"(tried extensions {', '.join(self.extensions)}, any case)",
            )
        try:
            data = path.read_bytes()
            image = decode_image(data, self.expected_size)
        except (OSError, InvalidPayload) as exc:
            return FetchResult(objid, row_index, "failed", origin=str(path), error=f"{path}: {exc}")
        status, image, error = classify(image, "ok")
        error = f"{path}: {error}" if error else ""
        return FetchResult(objid, row_index, status, image, sha256_hex(data), str(path), error)

    def __repr__(self) -> str:
        return f"LocalArchiveSource({str(self.directory)!r}, pattern={self.pattern!r}, {len(self)} files)"
