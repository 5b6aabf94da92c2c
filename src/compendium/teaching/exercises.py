"""The exercises of the seven tutorials: material, feedback that reads the answer, and model answers.

Feedback goes through :mod:`compendium.teaching.feedback` (checks anchored in
the passage, honest about what it cannot judge). Student answers are accepted
as plain strings or lists and parsed forgivingly; anything that cannot be used
comes back as one line with a fix, never as a traceback. Given a student name
(or a saved profile), non-empty answers are also kept in
``student_work/<name>/answers.json``.

The study's own notes, statements and themes for an exercise's passage appear
only in the model answers (``answer_*``), which the notebooks show behind a
reveal button in exercise mode.

The notebooks import everything from here. The exercises live by tutorial:
:mod:`.case_exercises` (T1-T5, one case at a time), :mod:`.group_exercises`
(T6, T7, across cases); the checklist in :mod:`.progress`; what they share
(keeping answers, one-line refusals) in :mod:`.exercise_tools`.
"""

from __future__ import annotations

from .case_exercises import (
    answer_clusters,
    answer_lines,
    answer_next_case,
    answer_notes,
    answer_statement,
    case_memos,
    coded_lines,
    contextualise,
    feedback_clusters,
    feedback_lines,
    feedback_memo,
    feedback_my_pets,
    feedback_notes,
    feedback_statement,
    memo_text,
    my_pets,
    my_statements,
    notes_of_kind,
    numeration,
    show_my_pets,
    statements_to_cluster,
    study_statements,
    subsumption_candidates,
)
from .exercise_tools import NOT_YET, segment_card
from .group_exercises import (
    all_case_tables,
    answer_quotes,
    answer_recurrence,
    feedback_my_groups,
    feedback_paragraph,
    feedback_quotes,
    feedback_recurrence,
    group_recurrence,
    quote_reference,
    theme_passages,
    woven_paragraph,
)
from .progress import TUTORIALS, progress, tasks_done

__all__ = [
    "NOT_YET",
    "TUTORIALS",
    "progress",
    "tasks_done",
    "segment_card",
    "coded_lines",
    "feedback_lines",
    "answer_lines",
    "notes_of_kind",
    "feedback_notes",
    "answer_notes",
    "study_statements",
    "feedback_statement",
    "answer_statement",
    "my_statements",
    "statements_to_cluster",
    "numeration",
    "contextualise",
    "subsumption_candidates",
    "feedback_clusters",
    "show_my_pets",
    "feedback_my_pets",
    "answer_clusters",
    "my_pets",
    "case_memos",
    "memo_text",
    "feedback_memo",
    "answer_next_case",
    "feedback_my_groups",
    "group_recurrence",
    "feedback_recurrence",
    "answer_recurrence",
    "all_case_tables",
    "theme_passages",
    "quote_reference",
    "woven_paragraph",
    "feedback_quotes",
    "answer_quotes",
    "feedback_paragraph",
]
