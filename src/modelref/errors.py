"""The one exception tree of modelref.

Every class carries a stable ``code`` (sent over HTTP as ``X-Error-Code``) so that a client can map an
answer back to the same class, whether it came from disk or from a server.
"""

from __future__ import annotations


class ModelRefError(Exception):
    """Base of every error modelref raises on purpose."""

    code = "error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ModelRefError):
    code = "not_found"


class EmptyCategory(NotFound):
    """The category exists and holds no records (the service answers 404, as the seeds say)."""

    code = "category_empty"


class AlreadyExists(ModelRefError):
    code = "already_exists"


class NameMismatch(ModelRefError):
    code = "name_mismatch"


class InvalidRecord(ModelRefError):
    """A record (or a whole source file) does not satisfy the data model."""

    code = "invalid_record"


class InvalidBody(InvalidRecord):
    """A request body failed validation; ``problems`` locate each failure (FastAPI's 422 list shape)."""

    def __init__(self, problems: list[dict[str, object]]) -> None:
        first = problems[0] if problems else {}
        super().__init__(str(first.get("msg", "invalid body")))
        self.problems = problems
        """Each ``{"type", "loc", "msg", "input"}``, ``loc`` relative to the body."""


class InvalidSource(ModelRefError):
    """An import source cannot be read or understood."""

    code = "invalid_source"


class InvalidPayload(ModelRefError):
    """A queued change cannot be applied as it stands (its payload or its target no longer fits)."""

    code = "invalid_payload"


class InvalidName(ModelRefError):
    """A model name a write may not use (e.g. a text name with a backend prefix)."""

    code = "invalid_name"


class InvalidQuery(ModelRefError):
    """A search or filter names a field, backend or source that does not exist."""

    code = "invalid_query"


class UnknownCategory(ModelRefError):
    """A path names a category that does not exist, where the contract answers 422."""

    code = "unknown_category"


class NoUsageData(ModelRefError):
    """A live-usage analysis asked of a category the AI-Horde reports no usage for."""

    code = "no_usage_data"


class InvalidTransition(ModelRefError):
    code = "invalid_transition"


class QuotaExceeded(ModelRefError):
    """A caller holds as much as a setting allows (e.g. pending changes per requestor)."""

    code = "quota_exceeded"


class Unauthorized(ModelRefError):
    code = "unauthorized"


class Forbidden(ModelRefError):
    code = "forbidden"


class NotServed(ModelRefError):
    """This deployment does not serve the operation (its mode or canonical format says so)."""

    code = "not_served"


class NotWritable(NotServed):
    """This deployment does not accept this write (a REPLICA, or the non-canonical API)."""

    code = "not_writable"


class Unavailable(ModelRefError):
    """Something this service depends on cannot answer now (the AI-Horde, the database, a PRIMARY)."""

    code = "unavailable"

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        """Seconds after which a retry may succeed (sent as ``Retry-After``), when known."""


class NotReplicated(Unavailable):
    """A REPLICA has not received this category from any source yet."""

    code = "not_replicated"


class ExportFailed(ModelRefError):
    code = "export_failed"


class IncompleteApply(ModelRefError):
    """A bulk apply stopped at a failed change. ``outcome`` is the full answer (what was applied, what
    failed); it is sent with the status that ``cause`` alone would get."""

    def __init__(self, cause: ModelRefError, outcome: object) -> None:
        super().__init__(cause.detail)
        self.cause = cause
        self.outcome = outcome
        self.code = cause.code


def error_class(code: str) -> type[ModelRefError] | None:
    """The class whose ``code`` is *code* (how a client maps an ``X-Error-Code`` back), or None."""
    pending: list[type[ModelRefError]] = [ModelRefError]
    while pending:
        kind = pending.pop()
        if kind.code == code:
            return kind
        pending.extend(kind.__subclasses__())
    return None
