"""Bring a PRIMARY's store up: migrate the schema, and seed an empty database from the seed source."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from modelref.domain.bundle import read_bundle
from modelref.errors import InvalidSource, ModelRefError
from modelref.services.importer import ImportReport, import_bundle
from modelref.storage.store import Store

log = logging.getLogger("modelref")


def prepare_store(
    store: Store, seed_source: str, read_seed: Callable[[], Mapping[str, bytes]] | None
) -> ImportReport | None:
    """Migrate *store*; import the seed (*read_seed* reads its files) if it holds no record.

    Returns the seeding's report (None: nothing imported; *read_seed* None: start empty).

    Several processes may start at once: migrations are serialized, and so are imports (a second seeding
    finds everything unchanged). Raises a ModelRefError whose message says what to do.
    """
    store.migrate()
    if read_seed is None or not store.is_empty():
        return None
    log.info("database is empty: importing seed data from %s", seed_source)
    try:
        bundle = read_bundle(read_seed())
    except ModelRefError as error:
        raise InvalidSource(
            f"cannot seed the empty database from {seed_source!r}: {error.detail}. "
            "Set HORDE_MODEL_REFERENCE_SEED_SOURCE to a folder of reference files (e.g. ../shared/reference-data), "
            "a URL of one, 'github', or 'none' to start empty."
        ) from None
    report = import_bundle(store, bundle)
    log.info("seeded %d records (%d warnings)", sum(r.total for r in report.categories), len(report.warnings))
    return report
