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
console = Console(stderr=True)
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
    store = Store(database_url or _settings().database)
    try:
        store.migrate()
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
    format: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="v2, legacy (the GitHub repositories' files), or both (DIR/v2 and DIR/legacy)."
        ),
    ] = "both",
    database_url: DatabaseOption = None,
) -> None:
    """Write the reference files from the database; each file is replaced atomically."""
    from modelref.services.exporter import ExportFormat, plan_export, write_export

    try:
        fmt = ExportFormat(format)
    except ValueError:
        console.print(f"[red]error:[/] --format must be v2, legacy or both, not {format!r}")
        raise typer.Exit(2) from None
    try:
        with _open_store(database_url) as store:
            plan = plan_export(store, fmt, directory)
        write_export(plan)
    except ModelRefError as error:
        raise _fail(error) from None
    for path, data in plan.items():
        out.print(f"wrote {path} ({len(data):,} bytes)")


@app.command()
def check(database_url: DatabaseOption = None) -> None:
    """Validate every stored record and verify the audit hash chain; exit 1 on any problem."""
    from modelref.services.check import check_store

    with _open_store(database_url) as store:
        report = check_store(store)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    for problem in report.problems:
        console.print(f"[red]problem:[/] {problem}")
    verdict = "[green]ok[/]" if report.ok else f"[red]{len(report.problems)} problems[/]"
    out.print(f"{report.records} records, {report.audit_events} audit events: {verdict}")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 19800,
    workers: Annotated[int, typer.Option(help="Worker processes (each keeps its own in-memory catalog).")] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Start the HTTP service (PRIMARY on the embedded SQLite database unless configured otherwise).

    An empty database first imports HORDE_MODEL_REFERENCE_SEED_SOURCE. The API is under /api; the
    interactive docs at /api/docs.
    """
    import uvicorn

    settings = _settings()
    console.print(
        f"modelref {settings.replicate_mode.value} (canonical {settings.canonical_format.value}) on "
        f"{_settings_database(settings)}; docs at http://{host}:{port}/api/docs"
    )
    uvicorn.run(
        "modelref.http.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=True,
    )


def _settings_database(settings: Settings) -> str:
    from sqlalchemy import make_url

    return make_url(settings.database).render_as_string(hide_password=True)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app()


if __name__ == "__main__":
    main()
