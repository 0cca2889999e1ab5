"""The ``modelref`` command line: import, export, sync, check, query (the library) and serve."""

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
    from modelref.domain.render import Records
    from modelref.settings import Settings
    from modelref.storage.store import Store

app = typer.Typer(
    help="modelref: the AI-Horde model reference (reference files, library and service).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


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
def sync(
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="Folder holding clones of the two legacy repositories: the files go into DIR/"
            "AI-Horde-image-model-reference and DIR/AI-Horde-text-model-reference (or --image-dir/--text-dir)."
        ),
    ] = None,
    source_url: Annotated[
        str | None,
        typer.Option(
            "--from", help="Read a PRIMARY's API (e.g. https://models.aihorde.net/api) instead of the database."
        ),
    ] = None,
    image_dir: Annotated[Path | None, typer.Option(help="Where the image repository's files go.")] = None,
    text_dir: Annotated[Path | None, typer.Option(help="Where the text repository's files go.")] = None,
    check_only: Annotated[
        bool, typer.Option("--check", help="Write nothing; list the files that differ and exit 1 if any does.")
    ] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Write the legacy files exactly as the legacy GitHub repositories hold them, ready to commit there.

    With unchanged data, stable_diffusion.json and db.json come out byte for byte as the repositories hold
    them. Only files whose records (or, for the others, bytes) changed are written, atomically: the
    repositories' hand formatting of an unchanged file is left alone.
    """
    from modelref.client.sources import GithubLayout
    from modelref.services.exporter import differing, plan_sync, write_export

    layout = GithubLayout()
    if directory is None and (image_dir is None or text_dir is None):
        console.print("[red]error:[/] give DIR, or both --image-dir and --text-dir")
        raise typer.Exit(2)
    images = image_dir or (directory or Path()) / layout.image_repo
    texts = text_dir or (directory or Path()) / layout.text_repo
    try:
        records = _records_from(source_url) if source_url else _records_from_database(database_url)
        plan = plan_sync(records, images, texts)
        changed = differing(plan)
        if not check_only:
            write_export({path: plan[path] for path in changed})
    except ModelRefError as error:
        raise _fail(error) from None
    for path in changed:
        out.print(f"{'differs' if check_only else 'wrote'}: {path}")
    out.print(f"{len(plan) - len(changed)} of {len(plan)} files unchanged")
    if check_only and changed:
        raise typer.Exit(1)


def _records_from_database(database_url: str | None) -> Records:
    from modelref.services.records import load_all

    with _open_store(database_url) as store:
        return load_all(store)


def _records_from(url: str) -> Records:
    """Every category from a PRIMARY's API (complete, or an error: never a partial set of files)."""
    import tempfile

    from modelref.client.reference import ModelReference

    with tempfile.TemporaryDirectory() as cache, ModelReference(url, cache_dir=cache, github=False, ttl=0) as ref:
        ref.refresh()  # every category, or an error
        held = {category: ref.mirror.held(category) for category in Category}
        return {category: list(copy.records.items()) for category, copy in held.items() if copy is not None}


@app.command()
def query(
    category: Annotated[str, typer.Argument(help="A category, e.g. image_generation or text_generation.")],
    baseline: Annotated[str | None, typer.Option(help="Only this baseline.")] = None,
    nsfw: Annotated[bool | None, typer.Option("--nsfw/--sfw", help="Only NSFW, or only SFW models.")] = None,
    name_contains: Annotated[str | None, typer.Option(help="Names containing this (any case).")] = None,
    tag_any: Annotated[list[str] | None, typer.Option(help="Any of these tags (repeat).")] = None,
    tag_all: Annotated[list[str] | None, typer.Option(help="All of these tags (repeat).")] = None,
    tag_none: Annotated[list[str] | None, typer.Option(help="None of these tags (repeat).")] = None,
    inpainting: Annotated[bool | None, typer.Option("--inpainting/--no-inpainting")] = None,
    backend: Annotated[str | None, typer.Option(help="text_generation: only this backend's names.")] = None,
    quantized: Annotated[bool | None, typer.Option("--quantized/--not-quantized")] = None,
    exclude_backend_variations: Annotated[bool, typer.Option(help="text_generation: base names only.")] = False,
    sort_by: Annotated[str | None, typer.Option(help="A field to sort on, e.g. name or size_on_disk_bytes.")] = None,
    sort_desc: Annotated[bool, typer.Option(help="Sort descending.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many (default: every match).")] = None,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the records as a JSON list.")] = False,
    primary: Annotated[
        str | None,
        typer.Option(help="The PRIMARY's API; default HORDE_MODEL_REFERENCE_PRIMARY_API_URL or the public service."),
    ] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Use the copy on disk only.")] = False,
) -> None:
    """Search a category with the library: the filters and sorts of the service's /search."""
    import json

    from modelref.client.reference import ModelReference

    filters = {
        "baseline": baseline,
        "nsfw": nsfw,
        "name_contains": name_contains,
        "tags_any": tag_any,
        "tags_all": tag_all,
        "tags_none": tag_none,
        "inpainting": inpainting,
        "backend": backend,
        "quantized": quantized,
        "exclude_backend_variations": exclude_backend_variations or None,
        "sort_by": sort_by,
        "sort_desc": sort_desc or None,
    }
    try:
        with ModelReference(primary, offline=offline or None) as ref:
            found = ref.query(
                category, limit=limit, offset=offset, **{k: v for k, v in filters.items() if v is not None}
            )
    except ModelRefError as error:
        raise _fail(error) from None
    if as_json:
        out.print_json(json.dumps([record.to_document() for record in found]))
        return
    table = Table(title=f"{len(found)} {category} models")
    table.add_column("name", no_wrap=True)
    table.add_column("baseline", no_wrap=True)
    table.add_column("nsfw")
    table.add_column("size", no_wrap=True)
    table.add_column("description", no_wrap=True, overflow="ellipsis", max_width=36)
    for record in found:
        size = record.size_on_disk_bytes
        table.add_row(
            record.name,
            str(getattr(record, "baseline", "") or ""),
            "yes" if getattr(record, "nsfw", False) else "",
            f"{size / 1e9:.1f} GB" if size else "",
            (record.description or "")[:60],
        )
    out.print(table)


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
    timeout_keep_alive: Annotated[
        int,
        typer.Option(
            min=1,
            help="Seconds an idle connection is kept open: longer than a REPLICA's poll interval, so that its poll "
            "reuses its connection (a new one costs the server more than the poll itself).",
        ),
    ] = 75,
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
        "modelref %s on http://%s:%d (web UI there; docs: http://%s:%d/api/docs): canonical format %s, %s, "
        "%d worker%s, access log %s",
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
        timeout_keep_alive=timeout_keep_alive,
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app()


if __name__ == "__main__":
    main()
