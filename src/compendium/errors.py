"""Errors that speak to a researcher: where, what was expected, how to fix."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Problem", "CompendiumError", "DataError", "FIX_PREFIX"]


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file."""

    file: str
    message: str
    fix: str = ""
    row: int | None = None  # 1-based data row (header excluded) or None
    line: int | None = None  # 1-based line in a text file or None
    column: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.line is not None:
            where += f", line {self.line}"
        if self.column:
            where += f", column '{self.column}'"
        text = f"{where}: {self.message}"
        if self.fix:
            text += FIX_PREFIX + self.fix
        return text


FIX_PREFIX = "\n    fix: "


class CompendiumError(Exception):
    """An error a researcher can act on; the CLI prints it without a traceback.

    ``fix`` says what to do about it; it is printed on its own line, the same way
    everywhere:

    >>> print(CompendiumError("participants.csv, row 3: unknown gender 'x'", fix="use Woman or Man"))
    participants.csv, row 3: unknown gender 'x'
        fix: use Woman or Man
    """

    def __init__(self, message: str = "", *, fix: str = "") -> None:
        self.message = message
        self.fix = fix
        super().__init__(message + (FIX_PREFIX + fix if fix else ""))


class DataError(CompendiumError):
    """Input data failed validation; carries every problem found."""

    def __init__(self, problems: list[Problem], what: str = "The input data") -> None:
        self.problems = problems
        n = len(problems)
        lines = [f"{what}: {n} problem{'s' if n != 1 else ''} found."]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))
