"""Feedback that reads the answer: checks anchored in the passage, and honesty about what cannot be judged.

A program cannot judge an interpretation. What it can check is whether an answer
is made of words at all (not keyboard mash, not one word repeated), whether it is
anchored in the passage it is about (a linguistic note quotes words that are
there; a descriptive note shares content words with it), and whether it does its
own job (a statement is not a copy of a theme label or of the passage). Each
check gives a verdict:

``empty``       nothing written yet;
``nonsense``    not words, or one word over and over: never praised;
``unanchored``  real words, but nothing ties them to the passage;
``weak``        tied to the passage, but missing what this kind of answer needs;
``plausible``   passes every check a program can make; whether it is a good reading is for the student
                (and the teacher) to weigh against the model answer.

There is no "good" verdict: the best a check can say is that it found nothing wrong.

Answers are parsed forgivingly (:func:`parse_lines`, :func:`parse_ids`,
:func:`parse_theme_ids`, :func:`parse_clusters`): plain strings such as
``"14, 16-18"`` or ``"P01-S05 p1-s6"`` work as well as Python lists. A refusal
is one line with a fix (:func:`refusal`), never a traceback.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from collections.abc import Iterable

from ..data import Study
from ..errors import CompendiumError
from .text import Markdown, TutorialError

__all__ = [
    "LEVELS", "Verdict", "WORDS", "STOPWORDS", "content_words", "stems", "vocabulary", "is_mash", "nonsense_reason",
    "quoted_phrases", "judge_descriptive", "judge_linguistic", "judge_conceptual", "judge_statement",
    "judge_memo", "judge_paragraph", "judge_name", "parse_lines", "parse_ids", "parse_theme_ids",
    "parse_clusters", "refusal", "CANNOT_JUDGE",
]

LEVELS = ("empty", "nonsense", "unanchored", "weak", "plausible")
WORDS = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")
# Small words left out when comparing the content of two short texts.
STOPWORDS = frozenset("""
a an and are as at be been but by can could do does for from had has have he her hers him his how i if in
into is it its just like me my no not of on or our she so some than that the their them then there these they
this to too up us was we were what when where which who why will with would you your yours um really very
self i'm i've i'd it's she's she'd don't doesn't didn't
""".split())
# Everyday English a student may use that the study's own texts need not contain.
COMMON = frozenset("""
about above across act action actually after again against age ago all almost alone along already also
although always am among anger angry another answer any anyone anything appear approach area around ask
asked asking attention away back bad based be became because become becomes becoming before began begin
behind being believe belief belong below best better between big bit body both bring brings brother burden
care careful cares caring carry case cause certain chance change child childhood children choice choose
clear close come comes coming common compare concern confidence connect connection consider control cope
coping could daughter day deal deep describe describes deserve deserving despite did different difficult
distance doing done doubt down duty each early easy either else emotion emotional end enough even event
ever every everyone everything example experience experienced experiences expect face fact fail failure
fair family far father fault fear feel feeling feelings feels felt few find first focus follow for force
forget forgive free friend full future gave get gets give given gives giving go goes going gone good grief
grow growing guilt guilty half happen happened happens happy hard harm harsh hate having heart help helps
herself high himself hold holds home hope hurt idea identity image imagine important inner inside instead
itself job keep kept kind kindly kindness knew know knowing known lack language last later learn learned
least leave less let life little live lives living long look looks lose loss lot love loved low made make
makes making many matter may maybe mean meaning means meant memory mental mind moment more most mother
move much must myself name need needed needs never new next nice none nothing notice now often old once
one only open other others ought out over own pain parent parents part past people perhaps person place
point possible power pressure problem protect protecting put question quite rather read real reason
relationship remember responsibility responsible rest right risk role sad sadness safe same say saying
says see seem seems seen sense shame short should show shows side simply since small something sometimes
son speak speaker speaking start state still stop story strong struggle suggest suggests support sure
take taken takes taking talk talks tell tells tend tension term than thing things think thinking thought
through time today together told tone toward towards trust truth try trying turn understand understanding
until upon use used uses using value view voice want wants way ways well went whether while whole wish
within without word words work worry worse worth wrong year years yet young yourself
""".split())
KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890")
# Four keys in a row on a keyboard, in either direction ('erty' is left out: property, liberty).
KEY_RUNS = frozenset(r[i:i + 4] for row in KEYBOARD for r in (row, row[::-1]) for i in range(len(r) - 3)) - {"erty",
                                                                                                               "ytre"}
VOWELS = set("aeiouy")
FIRST_PERSON = {"i", "i'm", "i've", "i'd", "i'll", "my", "me", "myself", "mine"}
TENTATIVE = {"perhaps", "maybe", "might", "may", "seems", "seem", "suggests", "suggest", "possibly", "could",
             "appears", "wonder", "as if", "almost"}
CANNOT_JUDGE = ("That is as far as a program can judge: whether the reading holds is an interpretation, so "
                "compare it with the model answer and argue for any difference.")


@dataclass
class Verdict:
    """The outcome of reading one answer: a level (see :data:`LEVELS`) and what was found."""

    level: str
    found: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.level == "plausible"

    def text(self, label: str = "") -> str:
        head = {"empty": "still empty", "nonsense": "not something I can read as an answer",
                "unanchored": "not tied to the passage", "weak": "needs work",
                "plausible": "nothing wrong that I can check"}[self.level]
        lead = f"*{label}:* " if label else ""
        return f"{lead}**{head}.** " + " ".join(self.found)


# ------------------------------------------------------------------ words
def content_words(text: str) -> set[str]:
    """Lower-case words of a text without small words and without a possessive 's ("mum's" -> "mum")."""
    words = {w.lower() for w in WORDS.findall(str(text))}
    return {w[:-2] if w.endswith("'s") else w for w in words} - STOPWORDS - {""}


def _stem(word: str) -> str:
    w = word.lower()
    for suffix in ("ingly", "ness", "ment", "ingly", "edly", "ing", "ies", "ied", "ed", "ly", "es", "s", "e", "y"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def stems(text: str) -> set[str]:
    """Stems of a text's content words: 'deserved' and 'deserve' meet, as do 'mothers' and 'mother'."""
    return {_stem(w) for w in content_words(text)}


@lru_cache(maxsize=8)
def _vocabulary(texts: tuple[str, ...]) -> frozenset[str]:
    found: set[str] = set(COMMON) | set(STOPWORDS)
    for t in texts:
        found |= {w.lower() for w in WORDS.findall(t)}
    return frozenset(found | {_stem(w) for w in found})


def vocabulary(study: Study | None) -> frozenset[str]:
    """Words known to be English here: everyday words plus every word of the study's transcripts, notes and memos."""
    if study is None:
        return _vocabulary(())
    texts = [*study.transcripts.values(), *study.coding["note_descriptive"], *study.coding["note_linguistic"],
             *study.coding["note_conceptual"], *study.coding["experiential_statement"], *study.memos["text"],
             *study.codebook["label"], *study.codebook.get("definition", [])]
    return _vocabulary(tuple(str(t) for t in texts))


def is_mash(word: str, known: frozenset[str] = frozenset()) -> bool:
    """True for a 'word' that is keyboard mash: no vowel, keys in a row, one letter many times, unpronounceable."""
    w = word.lower().strip("'")
    if not w or w in known or _stem(w) in known or w.isdigit():
        return False
    if not w.isalpha():
        return bool(re.search(r"[a-z]", w)) and bool(re.search(r"\d", w))  # 'asd123'
    if len(w) >= 3 and not VOWELS & set(w):
        return True
    if any(w[i:i + 4] in KEY_RUNS for i in range(len(w) - 3)):
        return True
    if re.search(r"(.)\1\1", w):
        return True
    if len(w) >= 5:
        if re.search(r"[^aeiouy]{5,}", w):
            return True
        if sum(c in VOWELS for c in w) / len(w) < 0.2:
            return True
    return False


def nonsense_reason(text: str, study: Study | None = None) -> str:
    """Why a text is not an answer at all ("" if it reads as words)."""
    words = WORDS.findall(str(text))
    if not words:
        return "It has no words in it."
    known = vocabulary(study)
    mash = [w for w in words if is_mash(w, known)]
    if len(mash) / len(words) >= 0.34:
        shown = ", ".join(dict.fromkeys(m.lower() for m in mash[:4]))
        return f"It reads as keyboard strokes rather than words ({shown}). Write what you noticed, in sentences."
    lower = [w.lower() for w in words]
    if len(lower) >= 3 and len(set(lower)) / len(lower) <= 0.4:
        top = max(set(lower), key=lower.count)
        return f"It repeats {top!r} {lower.count(top)} times; that does not say anything about the passage yet."
    return ""


def _unknown_share(text: str, study: Study | None) -> float:
    words = [w.lower() for w in WORDS.findall(str(text)) if w.isalpha()]
    if not words:
        return 1.0
    known = vocabulary(study)
    return sum(1 for w in words if w not in known and _stem(w) not in known) / len(words)


def quoted_phrases(text: str) -> list[str]:
    """Phrases a note puts in quotation marks: "...", '...', and curly quotes (an apostrophe is not a quote)."""
    found = re.findall(r"[\"\u201c]([^\"\u201c\u201d]{1,200})[\"\u201d]", text)
    found += re.findall(r"(?<![\w])['\u2018]([^'\u2018\u2019]{1,200}?)['\u2019](?![\w])", text)
    return [" ".join(q.split()) for q in found if q.strip()]


def _in_passage(phrase: str, passage: str) -> bool:
    norm = lambda s: " ".join(re.findall(r"[a-z0-9']+", s.lower()))  # noqa: E731
    return bool(norm(phrase)) and norm(phrase) in norm(passage)


def _shared(answer: str, passage: str) -> list[str]:
    mine = {_stem(w): w for w in content_words(answer)}
    theirs = stems(passage)
    return sorted({w for s, w in mine.items() if s in theirs})


# ------------------------------------------------------------------ verdicts, one kind of answer each
def _first(text: str, study: Study | None) -> Verdict | None:
    if not str(text or "").strip():
        return Verdict("empty")
    reason = nonsense_reason(text, study)
    if reason:
        return Verdict("nonsense", [reason])
    return None


def judge_descriptive(note: str, passage: str, study: Study | None = None) -> Verdict:
    """A descriptive note says what is said: it shares content words with the passage."""
    early = _first(note, study)
    if early:
        if early.level == "empty":
            early.found.append("Say what the passage is about: the events, people and feelings named.")
        return early
    shared = _shared(note, passage)
    n = len(WORDS.findall(note))
    if not shared:
        return Verdict("unanchored", ["It shares no words with the passage. A descriptive note stays with what "
                                      "is said: who, what happened, what was felt, in words close to the speaker's."])
    if n < 5:
        return Verdict("weak", [f"{n} words, touching the passage ({', '.join(shared[:4])}). Say a little more: "
                                "a descriptive note is a plain sentence about what happens."])
    if _in_passage(note, passage):
        return Verdict("weak", ["It copies the passage. Put what is said in your own plain words."])
    return Verdict("plausible", [f"It stays with the passage ({', '.join(shared[:4])}). Check that it describes "
                                 "rather than interprets; interpretation belongs in the conceptual note."])


def judge_linguistic(note: str, passage: str, study: Study | None = None) -> Verdict:
    """A linguistic note quotes the speaker's words (that are in the passage) and says what they do."""
    early = _first(note, study)
    if early:
        if early.level == "empty":
            early.found.append("Notice how it is said: images, repeated words, hesitations, pronouns, laughter; "
                               "quote the words you mean.")
        return early
    quotes = quoted_phrases(note)
    inside = [q for q in quotes if _in_passage(q, passage)]
    outside = [q for q in quotes if not _in_passage(q, passage)]
    rest = note
    for q in quotes:
        rest = rest.replace(q, " ")
    comment = content_words(rest)
    if not quotes:
        shared = _shared(note, passage)
        if not shared:
            return Verdict("unanchored", ["It neither quotes the passage nor uses its words. Put the exact words you "
                                          "mean in quotation marks, then say what they do."])
        return Verdict("weak", [f"It mentions {', '.join(shared[:3])} but quotes nothing. Put the exact words in "
                                "quotation marks so a reader can find them, then say what they do."])
    if not inside:
        return Verdict("unanchored", [f"The words you quote ({'; '.join(repr(q) for q in outside[:3])}) are not in "
                                      "this passage. Copy them exactly from it."])
    found = [f"It quotes the passage ({'; '.join(repr(q) for q in inside[:3])})."]
    if outside:
        found.append(f"But {'; '.join(repr(q) for q in outside[:3])} is not in this passage: check the wording.")
    if len(comment) < 2:
        return Verdict("weak", found + ["Now say what those words do: what picture they paint, what they stress or "
                                        "soften."])
    if outside:
        return Verdict("weak", found)
    return Verdict("plausible", found + ["Whether you read the words well is interpretation: compare with the model "
                                         "answer."])


def judge_conceptual(note: str, passage: str, descriptive: str = "", study: Study | None = None,
                     context: str = "") -> Verdict:
    """A conceptual note moves toward meaning, tentatively, and stays connected to the passage or the notes.

    ``context`` is text about the same passage the student has not necessarily
    seen (the study's notes, the definition of its theme): an interpretation that
    shares words with it is related to the passage even when it leaves the
    speaker's words behind.
    """
    early = _first(note, study)
    if early:
        if early.level == "empty":
            early.found.append("This is the interpretative step: what might the passage mean for how the person "
                               "understands themselves or their clients?")
        return early
    anchor = _shared(note, passage + " " + descriptive) or _shared(note, context)
    if not anchor and _unknown_share(note, study) > 0.3:
        return Verdict("unanchored", ["Nothing in it connects to the passage or to your other notes. Start from "
                                      "something the speaker said and ask what it might mean."])
    if not anchor:
        return Verdict("weak", ["It uses none of the passage's words. An interpretation can move away from them, "
                                "but say which part of the passage leads you there."])
    mine, desc = content_words(note), content_words(descriptive)
    if desc and len(mine & desc) / max(1, len(mine)) > 0.6:
        return Verdict("weak", ["It stays close to your descriptive note. Ask what this might mean for how the "
                                "person understands themselves or their clients."])
    lower = f" {str(note).lower()} "
    found = [f"It builds on the passage ({', '.join(anchor[:3])})."]
    if not any(f" {t} " in lower or f" {t}," in lower for t in TENTATIVE):
        found.append("Consider keeping it tentative ('perhaps', 'it may be that'): you are reading another "
                     "person's experience.")
    return Verdict("plausible", found + [CANNOT_JUDGE])


def judge_statement(statement: str, passage: str, notes: str = "", study: Study | None = None) -> Verdict:
    """An experiential statement: a short phrase about the experience, not a theme label, not the passage copied."""
    early = _first(statement, study)
    if early:
        if early.level == "empty":
            early.found.append("Write a short phrase that says what the passage is about for the person.")
        return early
    words = WORDS.findall(statement)
    clean = " ".join(statement.lower().split()).strip(" .")
    shared = _shared(statement, passage)
    from_notes = _shared(statement, notes) if notes else []
    if not shared and not from_notes and _unknown_share(statement, study) > 0.3:
        return Verdict("unanchored", ["Nothing in it connects to the passage or its notes. Say what this person "
                                      "experiences here."])
    if study is not None and clean in {str(lab).lower() for lab in study.codebook["label"]}:
        return Verdict("weak", ["It is a theme label of the study word for word. A statement belongs to this one "
                                "passage: say what this person experiences here."])
    if len(words) >= 5 and _in_passage(statement, passage):
        return Verdict("weak", ["It copies the speaker's words. A statement condenses them into what the passage "
                                "is about for the person, in your words with perhaps one of theirs."])
    if len(words) < 3:
        return Verdict("weak", [f"{len(words)} word(s): too short to carry an experience. Say who experiences what."])
    if len(words) > 14:
        return Verdict("weak", [f"{len(words)} words. Aim for a short phrase (about 4 to 12 words); the notes keep "
                                "the detail."])
    if not shared and not from_notes:
        return Verdict("weak", ["It uses none of the speaker's words nor of the notes: check that the speaker would "
                                "recognise it."])
    found = [f"{len(words)} words, anchored in the passage ({', '.join((shared or from_notes)[:3])})."]
    return Verdict("plausible", found + [CANNOT_JUDGE])


def judge_memo(memo: str, study: Study | None = None, carried: str = "") -> Verdict:
    """A bracketing memo: in the first person, long enough to name what the reader brings to the next case."""
    early = _first(memo, study)
    if early:
        if early.level == "empty":
            early.found.append("Write three or four sentences: 'I expect...', 'I noticed I...', 'I will check...'.")
        return early
    words = [w.lower() for w in WORDS.findall(memo)]
    if _unknown_share(memo, study) > 0.4:
        return Verdict("unanchored", ["Much of it is not words I recognise. Write what you expect to meet in the "
                                      "next case and what in the last one moved you."])
    found = [f"{len(words)} words."]
    weak = False
    if not FIRST_PERSON & set(words):
        found.append("Try the first person: a bracketing memo is about what *you* bring to the next transcript.")
        weak = True
    if len(words) < 25:
        found.append("Say a little more: which themes from the last case do you expect to meet again, and which of "
                     "your own reactions might colour the reading?")
        weak = True
    if carried and not _shared(memo, carried):
        found.append("It does not mention any of your themes from the last case: name the ones you expect to meet.")
        weak = True
    if weak:
        return Verdict("weak", found)
    return Verdict("plausible", found + ["Keep it: after coding the next case, re-read it and note what surprised you."])


def judge_paragraph(paragraph: str, quotes: Iterable[str], pseudonyms: Iterable[str], study: Study | None = None,
                    ) -> Verdict:
    """A write-up paragraph: quotes from the chosen passages, who said them and where, and interpretation."""
    early = _first(paragraph, study)
    if early:
        if early.level == "empty":
            early.found.append("Write the paragraph: claim, quote with pseudonym and line, interpretation, second "
                               "quote, interpretation, link.")
        return early
    quoted = quoted_phrases(paragraph)
    passages = list(quotes)
    real = [q for q in quoted if len(q.split()) >= 3 and any(_in_passage(q, p) for p in passages)]
    names = [n for n in pseudonyms if re.search(rf"\b{re.escape(n)}\b", paragraph)]
    lines = re.findall(r"\bline[s]?\s+\d+", paragraph, re.IGNORECASE)
    rest = paragraph
    for q in quoted:
        rest = rest.replace(q, " ")
    own = len(WORDS.findall(rest))
    missing = []
    if not real:
        missing.append("quote the participants' words in quotation marks, copied from the passages you chose")
    if not names:
        missing.append("say who said each quote (the pseudonym)")
    if not lines:
        missing.append("give the transcript line of each quote ('line 14')")
    if own < 40:
        missing.append(f"add your interpretation: only {own} words are yours; each quote needs what you make of it")
    if _unknown_share(rest, study) > 0.4:
        return Verdict("unanchored", ["Much of your own text is not words I recognise; write the claim and the "
                                      "interpretation in sentences."])
    found = [f"{len(real)} quote(s) from the passages, {len(names)} clinician(s) named, {own} words of your own."]
    if missing:
        return Verdict("weak", found + ["Still to do: " + "; ".join(missing) + "."])
    return Verdict("plausible", found + [CANNOT_JUDGE])


def judge_name(name: str, study: Study | None = None, statements: Iterable[str] = ()) -> Verdict:
    """A theme's name: real words; a study label word for word is allowed but worth a second look."""
    early = _first(name, study)
    if early:
        return early
    if _unknown_share(name, study) > 0.5:
        return Verdict("unanchored", ["Most of the name is not words I recognise; name what the statements share."])
    found = []
    if study is not None and " ".join(name.lower().split()) in {str(x).lower() for x in study.codebook["label"]}:
        found.append("It is one of the study's theme labels word for word: fine if your statements led you there, "
                     "but a name in your own words shows your reading.")
    shared = sorted(set().union(*[set(_shared(name, s)) for s in statements])) if statements else []
    if shared:
        found.append(f"It picks up words of its statements ({', '.join(shared[:3])}): subsumption.")
    return Verdict("plausible", found or ["A new name for what the statements share: abstraction."])


# ------------------------------------------------------------------ forgiving parsing, one-line refusals
def refusal(err: CompendiumError | str) -> Markdown:
    """A refusal as one line with its fix (no traceback)."""
    text = " ".join(str(err).split())
    return Markdown(f"**I can't read that answer yet:** {text}")


def _items(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [x for x in re.split(r"[,;\s]+", value.strip()) if x]
    if isinstance(value, dict):
        raise TutorialError("expected a list, got a dict. fix: write the items separated by commas, "
                            "for example \"14, 16\"")
    if isinstance(value, (int, float)):
        return [str(value)]
    try:
        return [str(x).strip() for x in value if str(x).strip()]  # type: ignore[union-attr]
    except TypeError:
        raise TutorialError(f"{value!r} is not a list. fix: write the items separated by commas") from None


def parse_lines(value: object) -> list[int]:
    """Line numbers from ``"14, 16-18"``, ``[14, "16"]`` or ``14``; sorted, without repeats."""
    out: set[int] = set()
    text = ",".join(_items(value)) if not isinstance(value, str) else value
    text = re.sub(r"\s*(?:[-\u2013]|\bto\b)\s*", "-", text.strip())
    for part in re.split(r"[,;\s]+", text):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(\d+)-(\d+)", part) or re.fullmatch(r"(\d+)(?:\.0)?", part)
        if not m:
            raise TutorialError(f"{part!r} is not a line number. fix: type line numbers separated by commas, "
                                "ranges with a dash, for example \"14, 16-18\"")
        a = int(m.group(1))
        b = int(m.group(2)) if m.lastindex == 2 else a
        if b < a:
            raise TutorialError(f"the range {part!r} runs backwards. fix: write the lower line first, e.g. "
                                f"\"{b}-{a}\"")
        out.update(range(a, b + 1))
    return sorted(out)


ID = re.compile(r"p\s*0*(\d{1,3})\s*[-_ ]?\s*([su])\s*0*(\d{1,3})", re.IGNORECASE)


def parse_ids(value: object) -> list[str]:
    """Segment ids from ``"P01-S05, p1-s6"`` or a list: upper case, two-digit parts, in the order given."""
    if value is None:
        return []
    text = value if isinstance(value, str) else " , ".join(_items(value))
    found, rest = [], text
    for m in ID.finditer(text):
        found.append(f"P{int(m.group(1)):02d}-{m.group(2).upper()}{int(m.group(3)):02d}")
        rest = rest.replace(m.group(0), " ", 1)
    left = [x for x in re.split(r"[,;\s\[\]'\"]+", rest) if x]
    if left:
        raise TutorialError(f"{left[0]!r} is not a segment id. fix: type ids as they appear in the table, "
                            "separated by commas, for example \"P01-S05, P01-S06\"")
    return list(dict.fromkeys(found))


def parse_theme_ids(value: object) -> list[str]:
    """Theme ids from ``"1.2, 3.1"`` or a list (``[1.2, "3.1"]`` works too)."""
    out = []
    for item in _items(value):
        item = item.strip("'\"[]() ")
        if not item:
            continue
        if not re.fullmatch(r"\d+(\.\d+)*", item):
            raise TutorialError(f"{item!r} is not a theme id. fix: type ids from the theme_id column separated by "
                                "commas, for example \"1.2, 3.1\"")
        out.append(item)
    return list(dict.fromkeys(out))


def parse_clusters(value: object) -> dict[str, list[str]]:
    """Clusters from a dict ``{"name": [ids]}`` or lines of text ``name: P01-U01, P01-U02``."""
    if not value:
        return {}
    if isinstance(value, dict):
        return {" ".join(str(k).split()): parse_ids(v) for k, v in value.items()}
    if not isinstance(value, str):
        raise TutorialError("clusters are one per line, \"name: ids\". fix: write for example\n"
                            "\"Kindness feels like betrayal: P01-U01, P01-U03\"")
    out: dict[str, list[str]] = {}
    for number, line in enumerate(value.strip().splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, ids = line.rpartition(":")
        if not sep or not name.strip():
            raise TutorialError(f"line {number} ({line.strip()!r}) has no name before a colon. fix: write "
                                "\"name of the cluster: P01-U01, P01-U02\"")
        out[" ".join(name.split())] = parse_ids(ids)
    return out
