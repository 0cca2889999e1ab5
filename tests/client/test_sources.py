from __future__ import annotations

from pathlib import Path

import pytest

from modelref.client.sources import GithubLayout, read_folder, read_github, read_source, read_url
from modelref.domain.bundle import read_bundle
from modelref.errors import InvalidSource
from tests.support import LEGACY_IMAGE, LEGACY_TEXT, REFERENCE_DATA, http_server, reference_files, serve_files


def test_reference_data_folder_is_read_from_its_subfolders() -> None:
    seen: list[str] = []
    files = read_folder(REFERENCE_DATA, seen.append)
    assert set(files) == set(reference_files())
    assert sorted(seen) == sorted(files)


def test_a_folder_with_the_same_file_twice_is_ambiguous(tmp_path: Path) -> None:
    for sub in ("v2", "legacy"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "clip.json").write_text("{}")
    with pytest.raises(InvalidSource, match="clip.json is in both"):
        read_folder(tmp_path)


def test_an_empty_or_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidSource, match="no reference files found"):
        read_folder(tmp_path)
    with pytest.raises(InvalidSource, match="not a folder"):
        read_source(str(tmp_path / "missing"), GithubLayout())


def test_url_of_a_folder_is_read_over_http() -> None:
    files = {f"/data/{name}": body for name, body in reference_files().items()}
    with http_server(serve_files(files)) as base:
        fetched = read_url(f"{base}/data/")
    assert fetched == reference_files()
    assert read_bundle(fetched).record_count == 913


def test_github_layout_reads_both_repositories() -> None:
    files = {}
    for name in ("AI-Horde-image-model-reference", "AI-Horde-text-model-reference"):
        folder = LEGACY_IMAGE if "image" in name else LEGACY_TEXT
        for path in folder.iterdir():
            files[f"/Haidra-Org/{name}/refs/heads/main/{path.name}"] = path.read_bytes()
    with http_server(serve_files(files)) as base:
        layout = GithubLayout(raw_url_template=base + "/{owner}/{name}/refs/heads/{branch}/{file}")
        fetched = read_github(layout)
        assert read_source("github", layout) == fetched
    assert "lora.json" not in fetched  # not asked for: LoRAs are managed elsewhere
    assert read_bundle(fetched).record_count == 913


def test_server_errors_and_unreachable_servers_are_clear_errors() -> None:
    with http_server(lambda path: (500, b"boom")) as base, pytest.raises(InvalidSource, match="answered HTTP 500"):
        read_url(base)
    with http_server(serve_files({})) as empty, pytest.raises(InvalidSource, match="no reference files found"):
        read_url(empty)
    with pytest.raises(InvalidSource, match="cannot be fetched"):
        read_url(base, timeout=2)  # the server is gone: connection refused
