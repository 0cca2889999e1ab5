"""Constrained strings for every free-text input (titles, reasons, job ids, filters).

One type per purpose, each refusing what no database can hold (a NUL character) and what is too long
to be meant, so both SQLite and PostgreSQL see only values they accept and bad input is a 422 on both.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints

SHOWN = 80
"""The longest part of a caller's input an answer quotes back."""


def shown(text: str) -> str:
    """*text* as an error message quotes it: never more than a short prefix."""
    return text if len(text) <= SHOWN else text[:SHOWN] + "…"


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


NoNul = AfterValidator(_no_nul)

Title = Annotated[str, StringConstraints(min_length=1, max_length=120), NoNul]
"""A batch title."""
Reason = Annotated[str, StringConstraints(max_length=500), NoNul]
"""A reason given for a decision (e.g. a rejection)."""
JobId = Annotated[str, StringConstraints(max_length=120), NoNul]
"""An apply job's id, chosen by the caller."""
NameFilter = Annotated[str, StringConstraints(min_length=1, max_length=200), NoNul]
"""A case-insensitive substring of model names."""
UserId = Annotated[str, StringConstraints(max_length=64), NoNul]
"""An AI-Horde user id as given in a filter."""
