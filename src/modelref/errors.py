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


class AlreadyExists(ModelRefError):
    code = "already_exists"


class NameMismatch(ModelRefError):
    code = "name_mismatch"


class InvalidRecord(ModelRefError):
    """A record (or a whole source file) does not satisfy the data model."""

    code = "invalid_record"


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


class InvalidTransition(ModelRefError):
    code = "invalid_transition"


class Unauthorized(ModelRefError):
    code = "unauthorized"


class Forbidden(ModelRefError):
    code = "forbidden"


class NotWritable(ModelRefError):
    code = "not_writable"


class Unavailable(ModelRefError):
    """Something this service depends on cannot answer now (the AI-Horde, the database, a PRIMARY)."""

    code = "unavailable"

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        """Seconds after which a retry may succeed (sent as ``Retry-After``), when known."""


class ExportFailed(ModelRefError):
    code = "export_failed"
