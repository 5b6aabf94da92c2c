"""REFI-QDA (QDA-XML 1.0) exchange with QDA software (NVivo, ATLAS.ti, MAXQDA, QualCoder).

One job per module:

- :mod:`.schema`: namespaces, GUIDs, the build date, schema validation, safe XML parsing;
- :mod:`.archive`: the reproducible zip writer and the bounded ``.qdpx`` reader;
- :mod:`.export`: ``codebook.qdc`` and ``project.qdpx`` (``compendium qdpx export``);
- :mod:`.importer`: a ``.qdpx`` back into the ``coding.csv`` format (``compendium qdpx import``), with
  :mod:`.reader` (the archive and its XML), :mod:`.matching` (participants, positions, segment ids) and
  :mod:`.import_report` (set-aside codes, empty cells, changes against ``coding.csv``);
- :mod:`.compare`: a second coder's coding against ours (``compendium qdpx compare``).

What each program keeps of an export, and what import recovers, is in docs/qda.md.
"""

from __future__ import annotations

from .archive import Archive, zip_bytes
from .compare import Comparison, compare_qdpx, write_report
from .export import codebook_xml, export, project_xml, qdpx_bytes
from .importer import ImportResult, import_qdpx
from .schema import (
    CODEBOOK_NS,
    GUID_NAMESPACE,
    NOTE_KINDS,
    PALETTE,
    PROJECT_NS,
    SHARED_ATTRIBUTES,
    RefiQdaError,
    check_xml,
    coding_table,
    guid,
    schema_dir,
    schemas_available,
)

__all__ = [
    "PROJECT_NS",
    "CODEBOOK_NS",
    "GUID_NAMESPACE",
    "coding_table",
    "SHARED_ATTRIBUTES",
    "NOTE_KINDS",
    "PALETTE",
    "RefiQdaError",
    "ImportResult",
    "Comparison",
    "Archive",
    "guid",
    "schema_dir",
    "schemas_available",
    "check_xml",
    "codebook_xml",
    "project_xml",
    "qdpx_bytes",
    "zip_bytes",
    "export",
    "import_qdpx",
    "compare_qdpx",
    "write_report",
]
