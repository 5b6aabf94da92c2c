"""The build's one timestamp and byte-stable zip files (DOCX reference document, REFI-QDA archives).

Every date a build writes comes from ``SOURCE_DATE_EPOCH``, which the Makefile
sets to the source commit's date (:mod:`compendium.source`); every zip the build
writes has fixed entry dates, permissions and compression, so two builds of the
same sources give the same bytes.
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import CompendiumError

__all__ = ["ZIP_EARLIEST", "build_epoch", "zip_timestamp", "zip_bytes", "rezip"]

ZIP_EARLIEST = 315532800  # 1980-01-01, the first date a zip entry can hold


def build_epoch() -> int | None:
    """``SOURCE_DATE_EPOCH`` in seconds, or None when it is unset (outside ``make``)."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise CompendiumError(
            f"SOURCE_DATE_EPOCH={raw!r} is not a whole number of seconds since 1970.",
            fix="unset it, or set it to e.g. 1654041600; the Makefile sets it to the source commit's date",
        ) from None


def zip_timestamp() -> tuple[int, int, int, int, int, int]:
    """The date every zip entry carries: the build's date, or 1980-01-01 when none is set."""
    t = time.gmtime(max(build_epoch() or ZIP_EARLIEST, ZIP_EARLIEST))
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def zip_bytes(entries: Mapping[str, bytes] | Iterable[tuple[str, bytes]], sort: bool = True) -> bytes:
    """A zip of ``entries`` (sorted by name unless ``sort`` is false) with fixed dates, permissions, compression."""
    items = list(entries.items()) if isinstance(entries, Mapping) else list(entries)
    if sort:
        items.sort(key=lambda item: item[0])
    date = zip_timestamp()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in items:
            info = zipfile.ZipInfo(name, date_time=date)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever the build machine
            info.external_attr = 0o100644 << 16
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getvalue()


def rezip(path: Path) -> None:
    """Rewrite the zip at ``path`` (a build intermediate) with fixed entry dates, keeping the entry order."""
    with zipfile.ZipFile(path) as source:
        items = [(info.filename, source.read(info.filename)) for info in source.infolist()]
    Path(path).write_bytes(zip_bytes(items, sort=False))
