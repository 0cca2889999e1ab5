from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from modelref.cli import app
from modelref.domain.categories import Category
from modelref.storage.store import Store
from tests.support import LEGACY_IMAGE, LEGACY_TEXT, POSTGRES_ENV, REFERENCE_DATA, serve

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_import_check_export(database_url: str, tmp_path: Path) -> None:
    code, output = _run("import", str(REFERENCE_DATA), "--database-url", database_url)
    assert code == 0, output
    assert "913 records in 10 categories" in output
    assert "text_generation" in output

    code, output = _run("check", "--database-url", database_url)
    assert code == 0, output
    assert "913 records, 913 audit events: ok" in output

    code, output = _run("export", str(tmp_path / "out"), "--format", "legacy", "--database-url", database_url)
    assert code == 0, output
    assert (tmp_path / "out" / "db.json").read_bytes() == (LEGACY_TEXT / "db.json").read_bytes()
    assert (tmp_path / "out" / "stable_diffusion.json").read_bytes() == (
        LEGACY_IMAGE / "stable_diffusion.json"
    ).read_bytes()


def test_bad_file_imports_nothing_and_says_where(database_url: str, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "clip.json").write_text('{"ok": {"name": "ok", "type": "clip", "config": {"files": [], "download": []}}}')
    (source / "blip.json").write_text('{"broken": {"name": "broken", "config": ')
    code, output = _run("import", str(source), "--database-url", database_url)
    assert code == 1
    assert "blip.json: not valid JSON" in output
    store = Store(database_url)
    assert store.is_empty()
    store.close()


def test_check_fails_on_a_tampered_audit_log_and_a_broken_record(database_url: str) -> None:
    assert _run("import", str(REFERENCE_DATA), "--database-url", database_url)[0] == 0
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_events SET logical_user_id = 'mallory' WHERE event_id = 5"))
        broken = json.dumps({"name": "ViT-L/14", "config": {"download": "not a list"}})
        conn.execute(sa.text("UPDATE records SET document = :d WHERE name = 'ViT-L/14'"), {"d": broken})
    engine.dispose()
    code, output = _run("check", "--database-url", database_url)
    assert code == 1
    assert "audit event 5: content does not match its hash" in output
    assert "clip/'ViT-L/14'" in output


def test_export_rejects_an_unknown_format(tmp_path: Path) -> None:
    code, output = _run("export", str(tmp_path), "--format", "xml", "--database-url", f"sqlite:///{tmp_path}/db")
    assert code == 2
    assert "--format must be v2, legacy or both" in output


@pytest.mark.parametrize("command", ["import", "export", "check"])
def test_help_explains_each_command(command: str) -> None:
    code, output = _run(command, "--help")
    assert code == 0
    assert "--database-url" in output


def test_exported_files_can_be_published(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/db.sqlite3"
    assert _run("import", str(REFERENCE_DATA), "--database-url", database)[0] == 0
    code, output = _run("export", str(tmp_path / "out"), "-f", "v2", "-f", "legacy", "--database-url", database)
    assert code == 0, output
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert {p.parent.name for p in files} == {"v2", "legacy"}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in files)  # under the usual umask 022


def _serve(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`modelref serve` in a subprocess that must fail at start-up (so it never listens)."""
    return subprocess.run(
        [sys.executable, "-m", "modelref.cli", "serve", "--port", "1", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"HORDE_MODEL_REFERENCE_SEED_SOURCE": "/nowhere/at/all"},
            "cannot seed the empty database from '/nowhere/at/all'",
        ),
        (
            {
                "HORDE_MODEL_REFERENCE_REPLICATE_MODE": "REPLICA",
                "HORDE_MODEL_REFERENCE_PRIMARY_API_URL": "http://127.0.0.1:9/api",
                "HORDE_MODEL_REFERENCE_ENABLE_GITHUB_FALLBACK": "false",
                "HORDE_MODEL_REFERENCE_STARTUP_WAIT": "1",
            },
            "no source answered within 1 s and there is no copy in",
        ),
        ({"HORDE_MODEL_REFERENCE_DATABASE_URL": "nosuchdriver://x"}, "cannot use the database URL"),
    ],
)
def test_start_up_failures_are_one_clear_line(tmp_path: Path, env: dict[str, str], message: str) -> None:
    result = _serve(HORDE_MODEL_REFERENCE_DATA_DIR=str(tmp_path), **env)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    assert "Traceback" not in result.stderr


@pytest.mark.postgres
def test_a_postgresql_database_that_does_not_exist_is_one_clear_line(tmp_path: Path) -> None:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    missing = sa.make_url(base).set(database="modelref_no_such_database").render_as_string(hide_password=False)
    result = _serve(HORDE_MODEL_REFERENCE_DATA_DIR=str(tmp_path), HORDE_MODEL_REFERENCE_DATABASE_URL=missing)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert 'database "modelref_no_such_database" does not exist' in errors[0]
    assert "Check HORDE_MODEL_REFERENCE_DATABASE_URL" in errors[0]


def test_serve_no_seed_starts_empty(tmp_path: Path) -> None:
    with serve(tmp_path, "--no-seed") as (base, log, _):
        assert httpx.get(f"{base}/api/model_references/v2/image_generation").status_code == 404
        assert httpx.get(f"{base}/api/model_references/v2/metadata/image_generation").json()["total_models"] == 0
    assert "importing seed data" not in log.read_text()
    assert "records: none" in log.read_text()


def test_serve_help_names_every_option() -> None:
    code, output = _run("serve", "--help")
    assert code == 0
    for option in ("--host", "--port", "--workers", "--access-log", "--no-seed", "--log-level", "--timeout-keep-alive"):
        assert option in output


def test_sync_writes_the_repositories_files_and_check_lists_what_differs(database_url: str, tmp_path: Path) -> None:
    assert _run("import", str(REFERENCE_DATA), "--database-url", database_url)[0] == 0
    repos = ["--image-dir", str(LEGACY_IMAGE), "--text-dir", str(LEGACY_TEXT)]
    code, output = _run("sync", "--check", *repos, "--database-url", database_url)
    assert (code, output.strip()) == (0, "14 of 14 files unchanged")  # formatting aside, the same records

    out = tmp_path / "repos"
    code, output = _run("sync", str(out), "--database-url", database_url)
    assert code == 0, output
    image, text = out / "AI-Horde-image-model-reference", out / "AI-Horde-text-model-reference"
    assert (image / "stable_diffusion.json").read_bytes() == (LEGACY_IMAGE / "stable_diffusion.json").read_bytes()
    assert (text / "db.json").read_bytes() == (LEGACY_TEXT / "db.json").read_bytes()
    assert (text / "models.csv").exists()
    assert not (image / "models.csv").exists()

    store = Store(database_url)
    with store.write() as tx:
        tx.records.delete(Category.CLIP, "ViT-L/14")
    store.close()
    code, output = _run("sync", "--check", str(out), "--database-url", database_url)
    assert code == 1
    assert output.splitlines() == [f"differs: {image / 'clip.json'}", "13 of 14 files unchanged"]
    before = (image / "clip.json").read_bytes()
    assert _run("sync", "--check", str(out), "--database-url", database_url)[0] == 1
    assert (image / "clip.json").read_bytes() == before  # --check writes nothing
    code, output = _run("sync", str(out), "--database-url", database_url)
    assert output.splitlines() == [f"wrote: {image / 'clip.json'}", "13 of 14 files unchanged"]
    assert "ViT-L/14" not in json.loads((image / "clip.json").read_bytes())


def test_sync_from_a_primary_equals_sync_from_its_database(tmp_path: Path) -> None:
    with serve(tmp_path) as (base, _, _):
        code, output = _run("sync", str(tmp_path / "from-api"), "--from", f"{base}/api")
        assert code == 0, output
    database = f"sqlite:///{tmp_path / 'modelref.sqlite3'}"
    assert _run("sync", str(tmp_path / "from-db"), "--database-url", database)[0] == 0
    files = sorted(p.relative_to(tmp_path / "from-db") for p in (tmp_path / "from-db").rglob("*") if p.is_file())
    assert len(files) == 14
    for name in files:
        assert (tmp_path / "from-api" / name).read_bytes() == (tmp_path / "from-db" / name).read_bytes(), name
    code, output = _run("sync", str(tmp_path / "x"), "--from", "http://127.0.0.1:9/api")
    assert code == 1
    assert output.startswith("error: ")
    assert not (tmp_path / "x").exists()  # nothing written from a source that did not answer


def test_query_is_the_librarys_search(tmp_path: Path) -> None:
    with serve(tmp_path) as (base, _, _):
        env = {"HORDE_MODEL_REFERENCE_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "160"}
        args = ["query", "image_generation", "--baseline", "stable_diffusion_xl", "--sort-by", "name", "--json"]
        result = runner.invoke(app, [*args, "--primary", f"{base}/api", "--limit", "4"], env=env)
        assert result.exit_code == 0, result.output
        names = [record["name"] for record in json.loads(result.output)]
        search = httpx.get(
            f"{base}/api/model_references/v2/image_generation/search",
            params={"baseline": "stable_diffusion_xl", "sort_by": "name", "limit": 4},
        ).json()
        assert names == [record["name"] for record in search["results"]]
        sfw = runner.invoke(app, ["query", "image_generation", "--sfw", "--json", "--primary", f"{base}/api"], env=env)
        assert sfw.exit_code == 0, sfw.output
        flags = [record["nsfw"] for record in json.loads(sfw.output)]
        assert flags
        assert not any(flags)
    # The server is gone: the copy on disk answers.
    env["HORDE_MODEL_REFERENCE_PRIMARY_API_URL"] = f"{base}/api"  # the copy on disk is this PRIMARY's
    offline = runner.invoke(app, ["query", "image_generation", "--name-contains", "albedobase", "--offline"], env=env)
    assert offline.exit_code == 0, offline.output
    assert "AlbedoBase XL (SDXL)" in offline.output
    bad = runner.invoke(app, ["query", "image_generation", "--sort-by", "nope", "--offline"], env=env)
    assert bad.exit_code == 1
    assert bad.output.startswith("error: ")
