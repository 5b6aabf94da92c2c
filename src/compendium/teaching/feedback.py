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

Every judge starts the same way (:func:`reads`): an empty answer is ``empty``
with a hint of what to write, mash is ``nonsense``; only words reach the judge.
The word checks are in :mod:`compendium.teaching.words`; answers are parsed
forgivingly, and refused in one line, by :mod:`compendium.teaching.parsing`.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ParamSpec

from ..data import Study
from .words import WORDS, content_words, in_passage, nonsense_reason, quoted_phrases, shared_words, unknown_share

__all__ = [
    "LEVELS",
    "Verdict",
    "reads",
    "judge_descriptive",
    "judge_linguistic",
    "judge_conceptual",
    "judge_statement",
    "judge_memo",
    "judge_paragraph",
    "judge_name",
    "CANNOT_JUDGE",
]

Judged = ParamSpec("Judged")

LEVELS = ("empty", "nonsense", "unanchored", "weak", "plausible")
FIRST_PERSON = {"i", "i'm", "i've", "i'd", "i'll", "my", "me", "myself", "mine"}
TENTATIVE = {
    "perhaps",
    "maybe",
    "might",
    "may",
    "seems",
    "seem",
    "suggests",
    "suggest",
    "possibly",
    "could",
    "appears",
    "wonder",
    "as if",
    "almost",
}
CANNOT_JUDGE = (
    "That is as far as a program can judge: whether the reading holds is an interpretation, so "
    "compare it with the model answer and argue for any difference."
)


@dataclass
class Verdict:
    """The outcome of reading one answer: a level (see :data:`LEVELS`) and what was found."""

    level: str
    found: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.level == "plausible"

    def text(self, label: str = "") -> str:
        head = {
            "empty": "still empty",
            "nonsense": "not something I can read as an answer",
            "unanchored": "not tied to the passage",
            "weak": "needs work",
            "plausible": "nothing wrong that I can check",
        }[self.level]
        lead = f"*{label}:* " if label else ""
        return f"{lead}**{head}.** " + " ".join(self.found)


# ------------------------------------------------------------------ verdicts, one kind of answer each
def reads(hint: str = "") -> Callable[[Callable[Judged, Verdict]], Callable[Judged, Verdict]]:
    """What every judge does first, written once: an empty answer is ``empty`` (with ``hint``, what to
    write), keyboard mash or one word over and over is ``nonsense``; only words reach the judge itself.

    The answer is the judge's first argument; the study whose words count as known is its ``study``.
    """

    def decorate(judge: Callable[Judged, Verdict]) -> Callable[Judged, Verdict]:
        signature = inspect.signature(judge)

        @functools.wraps(judge)
        def judged(*args: Judged.args, **kwargs: Judged.kwargs) -> Verdict:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            answer = next(iter(bound.arguments.values()))
            if not str(answer or "").strip():
                return Verdict("empty", [hint] if hint else [])
            reason = nonsense_reason(answer, bound.arguments["study"])
            if reason:
                return Verdict("nonsense", [reason])
            return judge(*args, **kwargs)

        return judged

    return decorate


@reads("Say what the passage is about: the events, people and feelings named.")
def judge_descriptive(note: str, passage: str, study: Study | None = None) -> Verdict:
    """A descriptive note says what is said: it shares content words with the passage."""
    shared = shared_words(note, passage)
    n = len(WORDS.findall(note))
    if not shared:
        return Verdict(
            "unanchored",
            [
                "It shares no words with the passage. A descriptive note stays with what "
                "is said: who, what happened, what was felt, in words close to the speaker's."
            ],
        )
    if n < 5:
        return Verdict(
            "weak",
            [
                f"{n} words, touching the passage ({', '.join(shared[:4])}). Say a little more: "
                "a descriptive note is a plain sentence about what happens."
            ],
        )
    if in_passage(note, passage):
        return Verdict("weak", ["It copies the passage. Put what is said in your own plain words."])
    return Verdict(
        "plausible",
        [
            f"It stays with the passage ({', '.join(shared[:4])}). Check that it describes "
            "rather than interprets; interpretation belongs in the conceptual note."
        ],
    )


@reads("Notice how it is said: images, repeated words, hesitations, pronouns, laughter; quote the words you mean.")
def judge_linguistic(note: str, passage: str, study: Study | None = None) -> Verdict:
    """A linguistic note quotes the speaker's words (that are in the passage) and says what they do."""
    quotes = quoted_phrases(note)
    inside = [q for q in quotes if in_passage(q, passage)]
    outside = [q for q in quotes if not in_passage(q, passage)]
    rest = note
    for q in quotes:
        rest = rest.replace(q, " ")
    comment = content_words(rest)
    if not quotes:
        shared = shared_words(note, passage)
        if not shared:
            return Verdict(
                "unanchored",
                [
                    "It neither quotes the passage nor uses its words. Put the exact words you "
                    "mean in quotation marks, then say what they do."
                ],
            )
        return Verdict(
            "weak",
            [
                f"It mentions {', '.join(shared[:3])} but quotes nothing. Put the exact words in "
                "quotation marks so a reader can find them, then say what they do."
            ],
        )
    if not inside:
        return Verdict(
            "unanchored",
            [
                f"The words you quote ({'; '.join(repr(q) for q in outside[:3])}) are not in "
                "this passage. Copy them exactly from it."
            ],
        )
    found = [f"It quotes the passage ({'; '.join(repr(q) for q in inside[:3])})."]
    if outside:
        found.append(f"But {'; '.join(repr(q) for q in outside[:3])} is not in this passage: check the wording.")
    if len(comment) < 2:
        return Verdict(
            "weak", found + ["Now say what those words do: what picture they paint, what they stress or soften."]
        )
    if outside:
        return Verdict("weak", found)
    return Verdict(
        "plausible", found + ["Whether you read the words well is interpretation: compare with the model answer."]
    )


@reads(
    "This is the interpretative step: what might the passage mean for how the person "
    "understands themselves or their clients?"
)
def judge_conceptual(
    note: str, passage: str, descriptive: str = "", study: Study | None = None, context: str = ""
) -> Verdict:
    """A conceptual note moves toward meaning, tentatively, and stays connected to the passage or the notes.

    ``context`` is text about the same passage the student has not necessarily
    seen (the study's notes, the definition of its theme): an interpretation that
    shares words with it is related to the passage even when it leaves the
    speaker's words behind.
    """
    anchor = shared_words(note, passage + " " + descriptive) or shared_words(note, context)
    if not anchor and unknown_share(note, study) > 0.3:
        return Verdict(
            "unanchored",
            [
                "Nothing in it connects to the passage or to your other notes. Start from "
                "something the speaker said and ask what it might mean."
            ],
        )
    if not anchor:
        return Verdict(
            "weak",
            [
                "It uses none of the passage's words. An interpretation can move away from them, "
                "but say which part of the passage leads you there."
            ],
        )
    mine, desc = content_words(note), content_words(descriptive)
    if desc and len(mine & desc) / max(1, len(mine)) > 0.6:
        return Verdict(
            "weak",
            [
                "It stays close to your descriptive note. Ask what this might mean for how the "
                "person understands themselves or their clients."
            ],
        )
    lower = f" {str(note).lower()} "
    found = [f"It builds on the passage ({', '.join(anchor[:3])})."]
    if not any(f" {t} " in lower or f" {t}," in lower for t in TENTATIVE):
        found.append(
            "Consider keeping it tentative ('perhaps', 'it may be that'): you are reading another person's experience."
        )
    return Verdict("plausible", found + [CANNOT_JUDGE])


@reads("Write a short phrase that says what the passage is about for the person.")
def judge_statement(statement: str, passage: str, notes: str = "", study: Study | None = None) -> Verdict:
    """An experiential statement: a short phrase about the experience, not a theme label, not the passage copied."""
    words = WORDS.findall(statement)
    clean = " ".join(statement.lower().split()).strip(" .")
    shared = shared_words(statement, passage)
    from_notes = shared_words(statement, notes) if notes else []
    if not shared and not from_notes and unknown_share(statement, study) > 0.3:
        return Verdict(
            "unanchored", ["Nothing in it connects to the passage or its notes. Say what this person experiences here."]
        )
    if study is not None and clean in {str(lab).lower() for lab in study.codebook["label"]}:
        return Verdict(
            "weak",
            [
                "It is a theme label of the study word for word. A statement belongs to this one "
                "passage: say what this person experiences here."
            ],
        )
    if len(words) >= 5 and in_passage(statement, passage):
        return Verdict(
            "weak",
            [
                "It copies the speaker's words. A statement condenses them into what the passage "
                "is about for the person, in your words with perhaps one of theirs."
            ],
        )
    if len(words) < 3:
        return Verdict("weak", [f"{len(words)} word(s): too short to carry an experience. Say who experiences what."])
    if len(words) > 14:
        return Verdict(
            "weak", [f"{len(words)} words. Aim for a short phrase (about 4 to 12 words); the notes keep the detail."]
        )
    if not shared and not from_notes:
        return Verdict(
            "weak", ["It uses none of the speaker's words nor of the notes: check that the speaker would recognise it."]
        )
    found = [f"{len(words)} words, anchored in the passage ({', '.join((shared or from_notes)[:3])})."]
    return Verdict("plausible", found + [CANNOT_JUDGE])


@reads("Write three or four sentences: 'I expect...', 'I noticed I...', 'I will check...'.")
def judge_memo(memo: str, study: Study | None = None, carried: str = "") -> Verdict:
    """A bracketing memo: in the first person, long enough to name what the reader brings to the next case."""
    words = [w.lower() for w in WORDS.findall(memo)]
    if unknown_share(memo, study) > 0.4:
        return Verdict(
            "unanchored",
            [
                "Much of it is not words I recognise. Write what you expect to meet in the "
                "next case and what in the last one moved you."
            ],
        )
    found = [f"{len(words)} words."]
    weak = False
    if not FIRST_PERSON & set(words):
        found.append("Try the first person: a bracketing memo is about what *you* bring to the next transcript.")
        weak = True
    if len(words) < 25:
        found.append(
            "Say a little more: which themes from the last case do you expect to meet again, and which of "
            "your own reactions might colour the reading?"
        )
        weak = True
    if carried and not shared_words(memo, carried):
        found.append("It does not mention any of your themes from the last case: name the ones you expect to meet.")
        weak = True
    if weak:
        return Verdict("weak", found)
    return Verdict(
        "plausible", found + ["Keep it: after coding the next case, re-read it and note what surprised you."]
    )


@reads("Write the paragraph: claim, quote with pseudonym and line, interpretation, second quote, interpretation, link.")
def judge_paragraph(
    paragraph: str,
    quotes: Iterable[str],
    pseudonyms: Iterable[str],
    study: Study | None = None,
) -> Verdict:
    """A write-up paragraph: quotes from the chosen passages, who said them and where, and interpretation."""
    quoted = quoted_phrases(paragraph)
    passages = list(quotes)
    real = [q for q in quoted if len(q.split()) >= 3 and any(in_passage(q, p) for p in passages)]
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
    if unknown_share(rest, study) > 0.4:
        return Verdict(
            "unanchored",
            ["Much of your own text is not words I recognise; write the claim and the interpretation in sentences."],
        )
    found = [f"{len(real)} quote(s) from the passages, {len(names)} clinician(s) named, {own} words of your own."]
    if missing:
        return Verdict("weak", found + ["Still to do: " + "; ".join(missing) + "."])
    return Verdict("plausible", found + [CANNOT_JUDGE])


@reads()
def judge_name(name: str, study: Study | None = None, statements: Iterable[str] = ()) -> Verdict:
    """A theme's name: real words; a study label word for word is allowed but worth a second look."""
    if unknown_share(name, study) > 0.5:
        return Verdict("unanchored", ["Most of the name is not words I recognise; name what the statements share."])
    found = []
    if study is not None and " ".join(name.lower().split()) in {str(x).lower() for x in study.codebook["label"]}:
        found.append(
            "It is one of the study's theme labels word for word: fine if your statements led you there, "
            "but a name in your own words shows your reading."
        )
    shared = sorted(set().union(*[set(shared_words(name, s)) for s in statements])) if statements else []
    if shared:
        found.append(f"It picks up words of its statements ({', '.join(shared[:3])}): subsumption.")
    return Verdict("plausible", found or ["A new name for what the statements share: abstraction."])
