"""Read the files of an import source: a local folder, a URL of a folder, or the legacy GitHub repositories."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from pydantic import BaseModel

from modelref.domain.bundle import TEXT_REPO_FILES, source_file_names
from modelref.domain.categories import CATEGORY_INFO, IMAGE_REPO_CATEGORIES
from modelref.errors import InvalidSource

GITHUB = "github"
"""The source name of the legacy GitHub repositories' raw files."""
NO_SEED = "none"
"""The seed source that means "start with an empty database"."""

Progress = Callable[[str], None]
"""Called with each file name as it is read."""


class GithubLayout(BaseModel):
    """Where the legacy repositories' raw files live."""

    raw_url_template: str = "https://raw.githubusercontent.com/{owner}/{name}/refs/heads/{branch}/{file}"
    owner: str = "Haidra-Org"
    image_repo: str = "AI-Horde-image-model-reference"
    text_repo: str = "AI-Horde-text-model-reference"
    branch: str = "main"

    def urls(self) -> dict[str, str]:
        """File name → raw URL for every file the legacy repositories hold."""
        image_files = [CATEGORY_INFO[c].legacy_file for c in IMAGE_REPO_CATEGORIES]
        urls = {}
        for repo, files in ((self.image_repo, image_files), (self.text_repo, TEXT_REPO_FILES)):
            for file in files:
                assert file is not None
                urls[file] = self.raw_url_template.format(owner=self.owner, name=repo, branch=self.branch, file=file)
        return urls


def read_folder(folder: Path, progress: Progress | None = None) -> dict[str, bytes]:
    """The known files in *folder* and its direct subfolders (as ../shared/reference-data is laid out)."""
    if not folder.is_dir():
        raise InvalidSource(f"{folder}: not a folder")
    known = set(source_file_names())
    found: dict[str, Path] = {}
    for path in sorted([*folder.iterdir(), *(p for d in folder.iterdir() if d.is_dir() for p in d.iterdir())]):
        if path.is_file() and path.name in known:
            if path.name in found:
                raise InvalidSource(
                    f"{folder}: {path.name} is in both {found[path.name].parent} and {path.parent}; "
                    "import one of those folders"
                )
            found[path.name] = path
    if not found:
        raise InvalidSource(f"{folder}: no reference files found (looked for {', '.join(sorted(known))})")
    files = {}
    for name, path in found.items():
        try:
            files[name] = path.read_bytes()
        except OSError as error:
            raise InvalidSource(f"{path}: cannot be read ({error.strerror})") from None
        if progress:
            progress(name)
    return files


def _fetch(client: httpx.Client, urls: dict[str, str], progress: Progress | None) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for name, url in urls.items():
        try:
            response = client.get(url)
        except httpx.HTTPError as error:
            raise InvalidSource(f"{url}: cannot be fetched ({type(error).__name__}: {error})") from None
        if response.status_code == 404:
            continue
        if response.status_code != 200:
            raise InvalidSource(f"{url}: answered HTTP {response.status_code}")
        files[name] = response.content
        if progress:
            progress(name)
    if not files:
        raise InvalidSource(f"no reference files found at {', '.join(urls.values())}")
    return files


def read_url(base_url: str, progress: Progress | None = None, timeout: float = 30.0) -> dict[str, bytes]:
    """The known files under a URL of a folder (``{base_url}/{file}``); missing files are skipped."""
    base = base_url.rstrip("/")
    urls = {name: f"{base}/{name}" for name in source_file_names()}
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        return _fetch(client, urls, progress)


def read_github(layout: GithubLayout, progress: Progress | None = None, timeout: float = 30.0) -> dict[str, bytes]:
    """The legacy repositories' raw files."""
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        return _fetch(client, layout.urls(), progress)


def read_source(source: str, layout: GithubLayout, progress: Progress | None = None) -> dict[str, bytes]:
    """Read *source*: ``github``, an ``http(s)://`` URL of a folder, or a local folder."""
    if source == GITHUB:
        return read_github(layout, progress)
    if source.startswith(("http://", "https://")):
        return read_url(source, progress)
    return read_folder(Path(source).expanduser(), progress)


def seed_reader(source: str, layout: GithubLayout) -> Callable[[], dict[str, bytes]] | None:
    """What reads the seed *source* when an empty database is seeded (None: the source says start empty)."""
    if source == NO_SEED:
        return None
    return lambda: read_source(source, layout)
