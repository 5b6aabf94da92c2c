"""The ``.qdpx`` zip: one reproducible writer, and a reader that bounds what it takes from a file.

The writer sorts entries and fixes their dates (from ``SOURCE_DATE_EPOCH``),
permissions and compression, so the same content gives the same bytes.

The reader never trusts the zip's own size fields: every member is
decompressed as a stream and refused as soon as it passes
:data:`MAX_MEMBER_BYTES` (or all members together pass :data:`MAX_TOTAL_BYTES`),
and an archive with more than :data:`MAX_ENTRIES` entries is refused before
anything is decompressed.
"""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

from ..reproducible import zip_bytes
from .schema import error

__all__ = ["MAX_ENTRIES", "MAX_MEMBER_BYTES", "MAX_TOTAL_BYTES", "zip_bytes", "Archive"]

MAX_ENTRIES = 20_000
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024
_CHUNK = 1024 * 1024


class Archive:
    """A ``.qdpx`` opened for reading, with bounded reads and letter-case-blind member names."""

    def __init__(
        self, path: Path, max_member: int | None = None, max_total: int | None = None, max_entries: int | None = None
    ) -> None:
        self.path = Path(path)
        self.max_member = MAX_MEMBER_BYTES if max_member is None else max_member
        self.max_total = MAX_TOTAL_BYTES if max_total is None else max_total
        max_entries = MAX_ENTRIES if max_entries is None else max_entries
        self.read_so_far = 0
        self.zip = self._open()
        try:
            infos = self.zip.infolist()
            if len(infos) > max_entries:
                raise error(
                    str(path),
                    f"holds {len(infos):,} entries, more than this import reads ({max_entries:,}).",
                    "export the project without media, or check the file came from your QDA program",
                )
            self.members = {info.filename.replace("\\", "/"): info for info in infos if not info.is_dir()}
            self.lower = {name.lower(): name for name in self.members}
        except BaseException:
            self.zip.close()
            raise

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> zipfile.ZipFile:
        path = self.path
        if not path.is_file():
            raise error(str(path), "file not found.", "check the path; give the .qdpx file your QDA program exported")
        try:
            return zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError):
            with open(path, "rb") as handle:
                head = handle.read(64).lstrip(codecs.BOM_UTF8).lstrip()
            if head.startswith(b"<"):
                fix = (
                    "this is an XML file, not a .qdpx archive: if it is a project.qde, zip it together with "
                    "its sources/ folder (project.qde at the top of the zip); a .qdc codebook holds no coding "
                    "to import"
                )
            else:
                fix = (
                    "a .qdpx is a zip archive written by a QDA program's REFI-QDA project export "
                    "(NVivo, ATLAS.ti, MAXQDA, QualCoder); export again in that format, not the program's own "
                    "project format"
                )
            raise error(str(path), "is not a zip archive, so it cannot be a REFI-QDA project (.qdpx).", fix) from None

    def read(self, member: str) -> bytes:
        """The member's bytes, decompressed as a stream and cut off at the caps (whatever the header claims)."""
        info = self.members[member]
        where = f"{self.path}, {member}"
        limit = min(self.max_member, self.max_total - self.read_so_far)
        chunks, size = [], 0
        try:
            with self.zip.open(info) as stream:
                while True:
                    chunk = stream.read(min(_CHUNK, limit + 1 - size))
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > limit:
                        what = "this member" if limit == self.max_member else "the members read so far together"
                        raise error(
                            where,
                            f"decompresses to more than {limit:,} bytes ({what}; the archive "
                            f"claims {info.file_size:,}), more than this import reads.",
                            "remove large media from the project before exporting, or check the file "
                            "came from your QDA program (it may be damaged or hostile)",
                        )
                    chunks.append(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile, NotImplementedError) as err:
            raise error(
                where, f"cannot be read from the archive ({err}).", "the file is damaged: copy or export it again"
            ) from None
        self.read_so_far += size
        return b"".join(chunks)

    def find(self, name: str) -> str | None:
        """The member called ``name`` in any letter case."""
        return self.lower.get(name.replace("\\", "/").lstrip("/").lower())

    def resolve(self, reference: str) -> str | None:
        """The member a source path points to: ``internal://X`` (in ``sources/`` in any letter case), or a
        relative path (``relative://X``, ``sources/X``, ``X``)."""
        ref = reference.strip()
        lowered = ref.lower()
        for scheme in ("internal://", "relative://", "file://"):
            if lowered.startswith(scheme):
                ref = ref[len(scheme) :]
                break
        else:
            if "://" in ref:
                return None  # absolute:// and URLs point outside the archive
        ref = ref.replace("\\", "/").lstrip("/")
        for candidate in (f"sources/{ref}", ref, f"sources/{ref.rpartition('/')[2]}"):
            found = self.find(candidate)
            if found is not None:
                return found
        return None
