"""Second-coder comparison on a planted second coder whose agreement figures are worked out here, independently."""

from __future__ import annotations

import csv
import importlib.util
import re
from pathlib import Path

import pytest

from compendium import cli
from compendium.data import load_codebook, load_coding, load_study
from compendium.files import write_bytes
from compendium.paths import paths
from compendium.refiqda import compare as compare_module
from compendium.refiqda.export import project_xml, qdpx_bytes

SPEC = importlib.util.spec_from_file_location(
    "second_coder", Path(__file__).parent / "fixtures" / "qdpx" / "second_coder.py"
)
second_coder = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(second_coder)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("compare")
    study = second_coder.second_coder_study()
    other = write_bytes(folder / "second_coder.qdpx", qdpx_bytes(study, project_xml(study)))
    assert cli.main(["qdpx", "compare", str(other), "--out", str(folder / "out")]) == 0
    with open(folder / "out" / "comparison.csv", encoding="utf-8") as handle:
        rows = {(r["level"], r["theme_id"], r["participant_id"]): r for r in csv.DictReader(handle)}
    return folder / "out", {"rows": rows, "theirs": study.coding, "texts": study.transcripts}


def characters(coding, pid: str, theme: str) -> set[int]:
    return {
        i
        for seg in coding[(coding.participant_id == pid) & (coding.theme_id == theme)].itertuples()
        for i in range(seg.start, seg.end)
    }


def kappa_2x2(both: int, ours_only: int, theirs_only: int, neither: int) -> float:
    """Cohen's kappa from the 2x2 table, in the closed form 2(ad - bc) / ((a+b)(b+d) + (a+c)(c+d))."""
    a, b, c, d = both, ours_only, theirs_only, neither
    denominator = (a + b) * (b + d) + (a + c) * (c + d)
    return 1.0 if denominator == 0 else 2 * (a * d - b * c) / denominator


def table(ours, theirs, texts, pairs) -> tuple[int, int, int, int]:
    a = b = c = n = 0
    for pid, theme in pairs:
        x, y = characters(ours, pid, theme), characters(theirs, pid, theme)
        a += len(x & y)
        b += len(x - y)
        c += len(y - x)
        n += len(texts[pid])
    return a, b, c, n - a - b - c


def test_character_agreement_and_kappa_match_an_independent_count(report: tuple[Path, dict]) -> None:
    _, found = report
    ours, theirs, texts = load_coding(), found["theirs"], found["texts"]
    codebook = load_codebook()
    themes = [t for t, codable in zip(codebook["id"], codebook["codable"]) if codable]
    pids = sorted(texts)
    cases = [("theme", t, "all", [(p, t) for p in pids]) for t in themes]
    cases += [("participant", "all", p, [(p, t) for t in themes]) for p in pids]
    cases.append(("overall", "all", "all", [(p, t) for p in pids for t in themes]))
    for level, theme, pid, pairs in cases:
        a, b, c, d = table(ours, theirs, texts, pairs)
        row = found["rows"][(level, theme, pid)]
        assert (
            int(row["chars_overlap"]),
            int(row["chars_ours"]),
            int(row["chars_theirs"]),
            int(row["chars_total"]),
        ) == (a, a + b, a + c, a + b + c + d)
        assert float(row["percent_agreement"]) == pytest.approx(100 * (a + d) / (a + b + c + d), abs=0.005)
        assert float(row["kappa"]) == pytest.approx(kappa_2x2(a, b, c, d), abs=0.00005)
        # QualCoder's figure, from its report's definition: over the a + b + c characters coded by anyone
        union = a + b + c
        if union:
            p_e = (a + b) * (a + c) / union**2 * (c * b) / union**2
            assert float(row["kappa_qualcoder"]) == pytest.approx((a / union - p_e) / (1 - p_e), abs=0.00005)
        else:
            assert row["kappa_qualcoder"] == ""
    overall = found["rows"][("overall", "all", "all")]
    assert 0.5 < float(overall["kappa"]) < 0.95  # planted disagreements: far from chance, far from perfect


def test_segment_counts_follow_the_planted_differences(report: tuple[Path, dict]) -> None:
    _, found = report
    ours, theirs = load_coding(), found["theirs"]

    def overlapping(seg, other) -> bool:
        same = other[(other.participant_id == seg.participant_id) & (other.theme_id == seg.theme_id)]
        return any(o.start < seg.end and seg.start < o.end for o in same.itertuples())

    both = sum(overlapping(s, theirs) for s in ours.itertuples())
    ours_only = len(ours) - both
    theirs_only = sum(not overlapping(s, ours) for s in theirs.itertuples())
    overall = found["rows"][("overall", "all", "all")]
    assert (
        int(overall["segments_both"]),
        int(overall["segments_ours_only"]),
        int(overall["segments_theirs_only"]),
    ) == (both, ours_only, theirs_only)
    # the plan itself: every 7th segment left out, every 7th recoded, two planted segments of theirs only
    n = len(ours)
    dropped = len(range(0, n, 7))
    assert len(theirs) == n - dropped + 2
    assert ours_only >= dropped and theirs_only >= 2


def test_report_names_the_kappa_and_shows_disagreements_as_text(report: tuple[Path, dict]) -> None:
    out, _ = report
    assert sorted(p.name for p in out.iterdir()) == ["comparison.csv", "comparison.html", "comparison.md"]
    md = (out / "comparison.md").read_text(encoding="utf-8")
    assert "Cohen's kappa on characters" in md and "Cohen, J. (1960)" in md
    page = (out / "comparison.html").read_text(encoding="utf-8")
    assert "Disagreements in context" in page and '<mark class="ours">' in page and '<mark class="theirs">' in page
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", page))
    assert tags <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "h1",
        "h2",
        "h3",
        "p",
        "code",
        "mark",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "section",
        "br",
    }
    assert "<script" not in page.lower()


def test_transcript_text_is_escaped_in_the_page() -> None:
    hostile = "Intro. <script>alert(1)</script> and <img src=x onerror=alert(2)> & more. Tail text."
    start = hostile.index("<script>")
    html = compare_module._context_html(hostile, [("ours", (start, start + 25)), ("theirs", (start + 5, start + 40))])
    assert "<script" not in html and "<img" not in html
    text = re.sub(r"</?mark[^>]*>", "", html)
    assert "&lt;script&gt;" in text and "&lt;img src=x onerror=alert(2)&gt;" in text and "&amp; more" in text


def test_agreement_of_identical_and_of_empty_coding() -> None:
    import numpy as np

    yes = np.array([1, 1, 0, 0, 1], dtype=bool)
    assert compare_module.agreement(yes, yes) == (100.0, 1.0)
    none = np.zeros(10, dtype=bool)
    assert compare_module.agreement(none, none) == (100.0, 1.0)  # nothing coded by either: complete agreement
    assert compare_module.agreement(yes, ~yes) == (0.0, pytest.approx(kappa_2x2(0, 3, 2, 0)))  # -12/13


def test_compare_never_writes_into_the_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = load_study()
    other = write_bytes(tmp_path / "ours.qdpx", qdpx_bytes(study, project_xml(study)))
    target = paths().data / "comparison"
    assert cli.main(["qdpx", "compare", str(other), "--out", str(target)]) == 1
    err = capsys.readouterr().err
    assert "refusing to write into" in err and "Traceback" not in err
    assert not target.exists()


def test_comparing_our_own_export_gives_complete_agreement(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = load_study()
    other = write_bytes(tmp_path / "ours.qdpx", qdpx_bytes(study, project_xml(study)))
    assert cli.main(["qdpx", "compare", str(other), "--out", str(tmp_path / "out")]) == 0
    assert "126 segments coded by both, 0 by us only, 0 by them only" in capsys.readouterr().out
    assert "None: both coders coded the same spans" in (tmp_path / "out" / "comparison.html").read_text()
