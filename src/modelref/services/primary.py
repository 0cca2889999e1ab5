"""What the services that work on the PRIMARY's database share."""

from __future__ import annotations

from modelref.domain.deployment import REPLICA_WRITES
from modelref.errors import NotWritable
from modelref.storage.store import Store


class OnPrimary:
    """A service over the PRIMARY's database. A REPLICA has none (``store`` None): its deployment guards
    answer first, and a call that reached the store anyway would be refused as a REPLICA write."""

    def __init__(self, store: Store | None) -> None:
        self._store = store

    @property
    def store(self) -> Store:
        if self._store is None:
            raise NotWritable(REPLICA_WRITES)
        return self._store
