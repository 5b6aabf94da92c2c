"""The words of an answer: content words and stems, the vocabulary known here, and keyboard mash.

What :mod:`compendium.teaching.feedback` builds its checks from: whether a
text is made of words at all (:func:`nonsense_reason`, :func:`is_mash`), which
content words two texts share (:func:`shared_words`, with stems so that
'deserved' meets 'deserve'), and what an answer puts in quotation marks
(:func:`quoted_phrases`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..data import Study

__all__ = [
    "WORDS",
    "STOPWORDS",
    "COMMON",
    "content_words",
    "stem",
    "stems",
    "vocabulary",
    "is_mash",
    "nonsense_reason",
    "unknown_share",
    "quoted_phrases",
    "in_passage",
    "shared_words",
]

WORDS = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")
# Small words left out when comparing the content of two short texts.
STOPWORDS = frozenset(
    """
a an and are as at be been but by can could do does for from had has have he her hers him his how i if in
into is it its just like me my no not of on or our she so some than that the their them then there these they
this to too up us was we were what when where which who why will with would you your yours um really very
self i'm i've i'd it's she's she'd don't doesn't didn't
""".split()
)
# Everyday English a student may use that the study's own texts need not contain.
COMMON = frozenset(
    """
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
""".split()
)
KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890")
# Four keys in a row on a keyboard, in either direction ('erty' is left out: property, liberty).
KEY_RUNS = frozenset(r[i : i + 4] for row in KEYBOARD for r in (row, row[::-1]) for i in range(len(r) - 3)) - {
    "erty",
    "ytre",
}
VOWELS = set("aeiouy")


def content_words(text: str) -> set[str]:
    """Lower-case words of a text without small words and without a possessive 's ("mum's" -> "mum")."""
    words = {w.lower() for w in WORDS.findall(str(text))}
    return {w[:-2] if w.endswith("'s") else w for w in words} - STOPWORDS - {""}


def stem(word: str) -> str:
    """A crude stem: the word in lower case without its longest common suffix."""
    w = word.lower()
    for suffix in ("ingly", "ness", "ment", "ingly", "edly", "ing", "ies", "ied", "ed", "ly", "es", "s", "e", "y"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def stems(text: str) -> set[str]:
    """Stems of a text's content words: 'deserved' and 'deserve' meet, as do 'mothers' and 'mother'."""
    return {stem(w) for w in content_words(text)}


@lru_cache(maxsize=8)
def _vocabulary(texts: tuple[str, ...]) -> frozenset[str]:
    found: set[str] = set(COMMON) | set(STOPWORDS)
    for t in texts:
        found |= {w.lower() for w in WORDS.findall(t)}
    return frozenset(found | {stem(w) for w in found})


def vocabulary(study: Study | None) -> frozenset[str]:
    """Words known to be English here: everyday words plus every word of the study's transcripts, notes and memos."""
    if study is None:
        return _vocabulary(())
    texts = [
        *study.transcripts.values(),
        *study.coding["note_descriptive"],
        *study.coding["note_linguistic"],
        *study.coding["note_conceptual"],
        *study.coding["experiential_statement"],
        *study.memos["text"],
        *study.codebook["label"],
        *study.codebook.get("definition", []),
    ]
    return _vocabulary(tuple(str(t) for t in texts))


def is_mash(word: str, known: frozenset[str] = frozenset()) -> bool:
    """True for a 'word' that is keyboard mash: no vowel, keys in a row, one letter many times, unpronounceable."""
    w = word.lower().strip("'")
    if not w or w in known or stem(w) in known or w.isdigit():
        return False
    if not w.isalpha():
        return bool(re.search(r"[a-z]", w)) and bool(re.search(r"\d", w))  # 'asd123'
    if len(w) >= 3 and not VOWELS & set(w):
        return True
    if any(w[i : i + 4] in KEY_RUNS for i in range(len(w) - 3)):
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


def unknown_share(text: str, study: Study | None) -> float:
    """The share of a text's words that are not known here (1.0 for a text without words)."""
    words = [w.lower() for w in WORDS.findall(str(text)) if w.isalpha()]
    if not words:
        return 1.0
    known = vocabulary(study)
    return sum(1 for w in words if w not in known and stem(w) not in known) / len(words)


def quoted_phrases(text: str) -> list[str]:
    """Phrases a note puts in quotation marks: "...", '...', and curly quotes (an apostrophe is not a quote)."""
    found = re.findall(r"[\"\u201c]([^\"\u201c\u201d]{1,200})[\"\u201d]", text)
    found += re.findall(r"(?<![\w])['\u2018]([^'\u2018\u2019]{1,200}?)['\u2019](?![\w])", text)
    return [" ".join(q.split()) for q in found if q.strip()]


def in_passage(phrase: str, passage: str) -> bool:
    """Whether the phrase occurs in the passage, ignoring case and punctuation."""
    norm = lambda s: " ".join(re.findall(r"[a-z0-9']+", s.lower()))  # noqa: E731
    return bool(norm(phrase)) and norm(phrase) in norm(passage)


def shared_words(answer: str, passage: str) -> list[str]:
    """The answer's content words whose stems occur in the passage, sorted."""
    mine = {stem(w): w for w in content_words(answer)}
    theirs = stems(passage)
    return sorted({w for s, w in mine.items() if s in theirs})
