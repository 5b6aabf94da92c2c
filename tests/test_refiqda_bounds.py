"""The ``.qdpx`` importer bounds what it reads, whatever the archive claims (issue 13, item 6)."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from compendium import cli, refiqda
from compendium.refiqda import archive as archive_module, schema as schema_module


def deflated(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def lie_about_size(data: bytes, claimed: int) -> bytes:
    """Rewrite the uncompressed size of the (only) member in both headers, as a zip bomb does."""
    patched = bytearray(data)
    assert patched[:4] == b"PK\x03\x04"
    struct.pack_into("<I", patched, 22, claimed)  # local file header
    central = patched.rfind(b"PK\x01\x02")
    struct.pack_into("<I", patched, central + 24, claimed)  # central directory
    return bytes(patched)


def bomb(size: int) -> bytes:
    """A project.qde of ``size`` bytes that deflates to almost nothing."""
    return b'<?xml version="1.0"?><Project xmlns="urn:QDA-XML:project:1.0" name="x">' + b" " * size + b"</Project>"


def expect(path: Path, capsys: pytest.CaptureFixture[str], *parts: str) -> str:
    assert cli.main(["qdpx", "import", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "fix:" in err and str(path) in err
    for part in parts:
        assert part in err, err
    return err


def test_a_zip_bomb_whose_header_lies_is_refused_with_bounded_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = lie_about_size(deflated({"project.qde": bomb(200 * 1024 * 1024)}), 250_000)
    path = tmp_path / "bomb.qdpx"
    path.write_bytes(data)
    assert path.stat().st_size < 1024 * 1024  # 200 MB inside well under a megabyte
    with zipfile.ZipFile(path) as zf:
        assert zf.infolist()[0].file_size == 250_000  # what the header claims
    tracemalloc.start()
    try:
        expect(path, capsys, "bomb.qdpx, project.qde", "cannot be read from the archive", "damaged")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024 * 1024  # never near the 200 MB it would decompress to


def test_a_member_larger_than_the_cap_is_cut_off_while_decompressing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(archive_module, "MAX_MEMBER_BYTES", 4 * 1024 * 1024)
    path = tmp_path / "big.qdpx"
    path.write_bytes(deflated({"project.qde": bomb(64 * 1024 * 1024)}))  # honest header, 64 MB
    tracemalloc.start()
    try:
        expect(path, capsys, "decompresses to more than 4,194,304 bytes", "the archive claims 67,108,9")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


def test_the_cap_holds_even_when_the_header_claims_less_than_the_cap(tmp_path: Path) -> None:
    # A member that claims 1 kB but holds 3 MB: reading stops at the cap (2 MB here), not at the claim's end.
    real = bomb(3 * 1024 * 1024)
    path = tmp_path / "liar.qdpx"
    path.write_bytes(lie_about_size(deflated({"project.qde": real}), 1024))
    reader = archive_module.Archive(path, max_member=2 * 1024 * 1024)
    with reader, pytest.raises(refiqda.RefiQdaError):
        reader.read("project.qde")
    assert reader.read_so_far <= 2 * 1024 * 1024


def test_all_members_together_are_capped(tmp_path: Path) -> None:
    path = tmp_path / "many_big.qdpx"
    path.write_bytes(deflated({f"sources/{i}.txt": b"a" * 600_000 for i in range(4)}))
    reader = archive_module.Archive(path, max_member=1_000_000, max_total=1_500_000)
    with reader:
        reader.read("sources/0.txt")
        reader.read("sources/1.txt")
        with pytest.raises(refiqda.RefiQdaError, match="the members read so far together"):
            reader.read("sources/2.txt")  # 1.8 MB in all would pass the 1.5 MB total
    assert reader.read_so_far == 1_200_000


def test_an_archive_with_too_many_entries_is_refused_before_decompressing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(archive_module, "MAX_ENTRIES", 50)
    path = tmp_path / "entries.qdpx"
    path.write_bytes(deflated({f"sources/{i}.txt": b"x" for i in range(51)}))
    expect(path, capsys, "holds 51 entries, more than this import reads (50)")


def test_a_project_with_too_many_xml_elements_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(schema_module.parse_xml, "__defaults__", (1000,))
    user = b'<User guid="00000000-0000-4000-8000-000000000000"/>'
    many = b'<Project xmlns="urn:QDA-XML:project:1.0" name="x"><Users>' + user * 1001 + b"</Users></Project>"
    path = tmp_path / "elements.qdpx"
    path.write_bytes(deflated({"project.qde": many}))
    expect(path, capsys, "holds more than 1,000 XML elements")


def test_entities_are_never_expanded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE Project [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<Project xmlns="urn:QDA-XML:project:1.0" name="&c;"/>'
    )
    path = tmp_path / "laughs.qdpx"
    path.write_bytes(deflated({"project.qde": laughs}))
    assert cli.main(["qdpx", "import", str(path)]) in (0, 1)
    assert "Traceback" not in capsys.readouterr().err
