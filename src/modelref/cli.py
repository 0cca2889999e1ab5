"""The ``modelref`` command line: import, export, check (and serve)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from modelref.domain.categories import Category
from modelref.errors import ModelRefError

if TYPE_CHECKING:
    from modelref.settings import Settings
    from modelref.storage.store import Store

app = typer.Typer(
    help="modelref: the AI-Horde model reference (reference files, library and service).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)
out = Console()


def _settings() -> Settings:
    from modelref.settings import Settings

    return Settings()


@contextlib.contextmanager
def _open_store(database_url: str | None) -> Iterator[Store]:
    """The migrated store named by --database-url or the settings; closed afterwards."""
    try:
        from modelref.storage.store import Store
    except ImportError as error:  # the library was installed without the service extra
        console.print(f"[red]error:[/] {error.name} is missing: install modelref[service]")
        raise typer.Exit(2) from None
    try:
        store = Store(database_url or _settings().database)
    except ModelRefError as error:
        raise _fail(error) from None
    try:
        try:
            store.migrate()
        except ModelRefError as error:
            raise _fail(error) from None
        yield store
    finally:
        store.close()


def _fail(error: ModelRefError) -> typer.Exit:
    console.print(f"[red]error:[/] {error.detail}")
    return typer.Exit(1)


DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL; default: HORDE_MODEL_REFERENCE_DATABASE_URL or the SQLite file in the data directory.",
    ),
]


@app.command("import")
def import_(
    source: Annotated[
        str | None,
        typer.Argument(
            help="A folder of legacy or v2 files, a URL of such a folder, or 'github' (the legacy repositories)."
            " Default: HORDE_MODEL_REFERENCE_SEED_SOURCE."
        ),
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Import reference files into the database, all in one transaction.

    Each category in the source replaces the stored one: new records are created, changed ones updated,
    missing ones deleted, and every change goes to the audit log. Re-importing the same data changes nothing.
    """
    from modelref.client.sources import read_source
    from modelref.domain.bundle import read_bundle
    from modelref.services.importer import import_bundle

    settings = _settings()
    source = source or settings.seed_source
    started = time.perf_counter()
    try:
        with (
            _open_store(database_url) as store,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress,
        ):
            reading = progress.add_task(f"reading {source}", total=None)
            files = read_source(source, settings.github, lambda name: progress.advance(reading))
            progress.update(reading, total=len(files), completed=len(files))
            bundle = read_bundle(files)
            writing = progress.add_task("importing", total=bundle.record_count)
            report = import_bundle(store, bundle, on_category=lambda _c, n: progress.advance(writing, n))
    except ModelRefError as error:
        raise _fail(error) from None
    table = Table(title=f"Imported from {source} into {store.describe()}")
    for column in ("category", "format", "records", "created", "updated", "deleted", "unchanged"):
        table.add_column(column, justify="left" if column in ("category", "format") else "right")
    for row in report.categories:
        table.add_row(
            row.category.value,
            row.source_format,
            *map(str, (row.total, row.created, row.updated, row.deleted, row.unchanged)),
        )
    out.print(table)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    total = sum(r.total for r in report.categories)
    elapsed = time.perf_counter() - started
    out.print(
        f"{total} records in {len(report.categories)} categories, {len(report.warnings)} warnings, {elapsed:.2f}s"
    )


@app.command()
def export(
    directory: Annotated[Path, typer.Argument(help="Folder to write into (created if missing).")],
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            help="v2 or legacy (the GitHub repositories' files); repeat for both, or say 'both'. Several formats "
            "write one subfolder each (DIR/v2, DIR/legacy). Default: both.",
        ),
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Write the reference files from the database; each file is replaced atomically."""
    from modelref.domain.formats import Format
    from modelref.services.exporter import plan_export, write_export

    wanted: set[Format] = set()
    for name in formats or ["both"]:
        if name == "both":
            wanted |= set(Format)
        elif name in {f.value for f in Format}:
            wanted.add(Format(name))
        else:
            console.print(f"[red]error:[/] --format must be v2, legacy or both, not {name!r}")
            raise typer.Exit(2)
    try:
        with _open_store(database_url) as store:
            plan = plan_export(store, wanted, directory)
        write_export(plan)
    except ModelRefError as error:
        raise _fail(error) from None
    for path, data in plan.items():
        out.print(f"wrote {path} ({len(data):,} bytes)")


@app.command()
def check(database_url: DatabaseOption = None) -> None:
    """Validate every stored record and verify the audit hash chain; exit 1 on any problem."""
    from modelref.services.check import check_store

    try:
        with _open_store(database_url) as store:
            report = check_store(store)
    except ModelRefError as error:
        raise _fail(error) from None
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    for problem in report.problems:
        console.print(f"[red]problem:[/] {problem}")
    verdict = "[green]ok[/]" if report.ok else f"[red]{len(report.problems)} problems[/]"
    out.print(f"{report.records} records, {report.audit_events} audit events: {verdict}")
    if not report.ok:
        raise typer.Exit(1)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _log_config(level: str) -> dict[str, object]:
    """Logging for the server and every worker process: timestamps and levels on every line."""
    handler = {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": LOG_FORMAT}},
        "handlers": {"stderr": handler},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "modelref": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "alembic": {"level": "WARNING"},
            "httpx": {"level": "WARNING"},
        },
    }


def _record_counts(counts: dict[Category, int]) -> str:
    return ", ".join(f"{c.value} {counts[c]}" for c in Category if counts.get(c)) or "none"


def _prepare_primary(settings: Settings) -> tuple[str, str]:
    """Migrate and seed the database once, before the workers start; what to say about it."""
    from modelref.client.sources import seed_reader
    from modelref.services.startup import prepare_store
    from modelref.storage.store import Store

    store = Store(settings.database)
    try:
        prepare_store(store, settings.seed_source, seed_reader(settings.seed_source, settings.github))
        with store.read() as tx:
            states = tx.records.states()
    finally:
        store.close()
    where = f"database {store.describe()}, seed source {settings.seed_source}"
    return where, _record_counts({c: state.count for c, state in states.items()})


def _prepare_replica(settings: Settings) -> tuple[str, str]:
    """Fill the REPLICA's copy on disk once (or find it), before the workers start from it."""
    from modelref.http.app import open_replica

    replica = open_replica(settings)
    try:
        replica.start(wait=settings.startup_wait)
        status = replica.status()
    finally:
        replica.close()
    where = (
        f"PRIMARY {settings.primary_api_url or '(none)'}, source in use {status.source}, "
        f"copy in {settings.replica_cache}, polled every {settings.cache_ttl_seconds:g} s"
    )
    return where, _record_counts({c: s.records for c, s in status.categories.items()})


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 19800,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (each keeps its own in-memory catalog).")] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request (off by default: a proxy in front usually does).")
    ] = False,
    no_seed: Annotated[
        bool, typer.Option("--no-seed", help="Start with an empty database instead of importing the seed source.")
    ] = False,
) -> None:
    """Start the HTTP service (PRIMARY on the embedded SQLite database unless configured otherwise).

    An empty database first imports HORDE_MODEL_REFERENCE_SEED_SOURCE (unless --no-seed). The API is under
    /api; the interactive docs at /api/docs.
    """
    import os

    import uvicorn

    from modelref.client.sources import NO_SEED

    if no_seed:
        os.environ["HORDE_MODEL_REFERENCE_SEED_SOURCE"] = NO_SEED  # the worker processes read it too
    settings = _settings()
    try:
        source, counts = _prepare_replica(settings) if not settings.deployment.writable else _prepare_primary(settings)
    except ModelRefError as error:
        raise _fail(error) from None
    log = logging.getLogger("modelref")
    log.info(
        "modelref %s on http://%s:%d (docs: http://%s:%d/api/docs): canonical format %s, %s, %d worker%s, "
        "access log %s",
        settings.replicate_mode.value,
        host,
        port,
        host,
        port,
        settings.canonical_format.value,
        source,
        workers,
        "" if workers == 1 else "s",
        "on" if access_log else "off",
    )
    log.info("records: %s", counts)
    queue = settings.pending_queue
    if not settings.deployment.writable:
        pass  # a REPLICA takes no writes: nobody to allow
    elif not queue.requestor_ids and not queue.approver_ids:
        log.warning(
            "writes are disabled: no requestors or approvers (set HORDE_MODEL_REFERENCE_PENDING_QUEUE__REQUESTOR_IDS "
            "and __APPROVER_IDS to AI-Horde user ids)"
        )
    elif not queue.approver_ids:
        log.warning(
            "no approvers (HORDE_MODEL_REFERENCE_PENDING_QUEUE__APPROVER_IDS): changes can be proposed "
            "but nobody can review or apply them"
        )
    if not settings.cors_allowed_origins:
        log.warning(
            "no CORS origins allowed (HORDE_MODEL_REFERENCE_CORS_ALLOWED_ORIGINS): "
            "browsers on other sites cannot call the API"
        )
    uvicorn.run(
        "modelref.http.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        log_config=_log_config(log_level),
        access_log=access_log,
        proxy_headers=True,
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app()


if __name__ == "__main__":
    main()
