"""Validate what the store holds: every record and the audit chain."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from modelref.domain.categories import Category
from modelref.domain.legacy import describe_validation_error
from modelref.domain.records import parse_record
from modelref.domain.vocab import known_value_problems
from modelref.storage.store import Store


@dataclass(slots=True)
class CheckReport:
    records: int = 0
    audit_events: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_store(store: Store) -> CheckReport:
    """Parse every stored record as its category's type and verify the audit hash chain."""
    report = CheckReport()
    with store.read() as tx:
        states = tx.records.states()
    for category in Category:
        stored = store.load(category).records
        report.records += len(stored)
        if stored and category not in states:
            report.problems.append(f"{category.value}: has records but no version row")
        for item in stored:
            where = f"{category.value}/{item.name!r}"
            try:
                record = parse_record(category, item.document)
            except ValidationError as error:
                report.problems.append(f"{where}: {describe_validation_error(error)}")
                continue
            for problem in known_value_problems(record):
                report.warnings.append(f"{where}: field {problem.field!r}: {problem.message}")
    with store.read() as tx:
        report.audit_events = tx.audit.count()
        report.problems.extend(tx.audit.verify())
    return report
