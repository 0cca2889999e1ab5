from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from modelref.cli import app
from modelref.storage.store import Store
from tests.support import LEGACY_IMAGE, LEGACY_TEXT, REFERENCE_DATA

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
