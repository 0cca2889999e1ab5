"""Interop check: the published library horde-model-reference 8.6.2, in REPLICA mode, reading a modelref server.

Run by scripts/interop with the Python 3.12 of a throw-away venv that holds only horde-model-reference==8.6.2
and its dependencies, so this file imports nothing but that library and the standard library (never modelref).

    interop_check.py load --label PRIMARY --url http://127.0.0.1:P --expected '{"blip": 2, ...}' \
        --legacy-image DIR --workdir EMPTY_DIR --out result.json
        Load the reference the way an AI-Horde worker does (ModelReferenceManager in REPLICA mode pointed at
        <url>/api, GitHub fallback off, a private empty cache), count the records per category, describe what
        the library does for the categories the server has no data for, and write it all to result.json.

    interop_check.py compare --expected '{...}' primary.json replica.json
        Print the table category / expected / from PRIMARY / from REPLICA and exit 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

SAMPLE_IMAGE_MODEL = "stable_diffusion"
"""The image_generation record whose attributes are compared field by field (if absent: the first one)."""


def _clean_environment(url: str, cache_home: Path) -> None:
    """Configure 8.6.2 through its own settings; nothing inherited from the caller's environment may leak in."""
    for name in list(os.environ):
        if name.startswith(("HORDE_MODEL_REFERENCE_", "AIWORKER_")) or name in {"GITHUB_PROXY_URL_BASE", "LOGS_FOLDER"}:
            del os.environ[name]
    os.environ.update(
        {
            # horde_model_reference.HordeModelReferenceSettings (env_prefix HORDE_MODEL_REFERENCE_)
            "HORDE_MODEL_REFERENCE_REPLICATE_MODE": "REPLICA",
            "HORDE_MODEL_REFERENCE_PRIMARY_API_URL": f"{url}/api",
            "HORDE_MODEL_REFERENCE_ENABLE_GITHUB_FALLBACK": "false",
            # haidra_core.ai_horde.settings.AIHordeWorkerSettings (no prefix): 8.6.2's
            # horde_model_reference_paths.base_path is <AIWORKER_CACHE_HOME>/horde_model_reference, and
            # AIWORKER_CACHE_HOME defaults to "./models" (relative to the working directory).
            "AIWORKER_CACHE_HOME": str(cache_home),
            "LOGS_FOLDER": str(cache_home / "logs"),
            # haidra_core reads ./.env and ./.env.prod only when this is on.
            "HAIDRA_USE_DEFAULT_ENV_FILES": "0",
        }
    )


def _raw_get(url: str) -> dict[str, Any]:
    """What the server answers to a plain GET (status, X-Error-Code, a body excerpt), for the report."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return {"status": response.status, "error_code": response.headers.get("X-Error-Code"), "body": ""}
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", "replace")
        return {"status": error.code, "error_code": error.headers.get("X-Error-Code"), "body": body[:200]}


KEY_ABSENT = object()


def _describe(value: Any) -> str:
    if value is KEY_ABSENT:
        return "key absent"
    if value is None:
        return "None"
    if isinstance(value, dict):
        return "{} (empty dict)" if not value else f"dict of {len(value)} records"
    return f"{type(value).__name__}: {value!r}"[:200]


def load(args: argparse.Namespace) -> int:
    expected: dict[str, int] = json.loads(args.expected)
    work = Path(args.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    cache_home = work / "cache"
    _clean_environment(args.url, cache_home)
    os.chdir(work)  # 8.6.2's relative defaults (./models, ./logs, ./.env) land in the temp dir, never the repo

    import httpx  # a dependency of horde-model-reference
    from loguru import logger

    # Every request the library makes, to report what it asked for and what it got.
    requests: list[dict[str, Any]] = []
    real_get = httpx.get

    def recording_get(url: Any, *a: Any, **kw: Any) -> httpx.Response:
        response = real_get(url, *a, **kw)
        requests.append(
            {"url": str(url), "status": response.status_code, "error_code": response.headers.get("x-error-code")}
        )
        return response

    httpx.get = recording_get  # type: ignore[assignment]

    messages: list[str] = []
    logger.remove()
    logger.add(lambda m: messages.append(f"{m.record['level'].name}: {m.record['message']}"), level="WARNING")

    import horde_model_reference
    from horde_model_reference import (
        MODEL_REFERENCE_CATEGORY,
        ModelReferenceManager,
        horde_model_reference_paths,
        meta_consts,
    )
    from horde_model_reference.backends.http_backend import HTTPBackend

    version = importlib.metadata.version("horde-model-reference")
    settings = horde_model_reference.horde_model_reference_settings
    base_path = Path(horde_model_reference_paths.base_path)
    problems: list[str] = []
    if not base_path.is_relative_to(work):
        problems.append(f"8.6.2's base_path {base_path} is not in the private temp dir {work}")
    if base_path.exists() and any(base_path.iterdir()):
        problems.append(f"8.6.2's base_path {base_path} is not empty before the load")
    if settings.primary_api_url != f"{args.url}/api" or settings.enable_github_fallback:
        problems.append(f"8.6.2 settings not applied: {settings.primary_api_url=}, {settings.enable_github_fallback=}")

    manager = ModelReferenceManager(base_path=base_path)
    if not isinstance(manager.backend, HTTPBackend):
        problems.append(f"8.6.2 chose {type(manager.backend).__name__}, not HTTPBackend (the PRIMARY API client)")

    counts: dict[str, int | None] = {}
    records: dict[str, dict[str, str]] = {}
    load_errors: dict[str, str] = {}
    for name in expected:
        category = MODEL_REFERENCE_CATEGORY(name)
        try:
            reference = manager.get_model_reference(category)
        except Exception as error:  # report, then fail on the count
            load_errors[name] = f"{type(error).__name__}: {error}"
            counts[name] = None
            continue
        counts[name] = len(reference)
        records[name] = {
            key: hashlib.sha256(
                json.dumps(record.model_dump(mode="json", exclude_unset=True), sort_keys=True).encode()
            ).hexdigest()
            for key, record in reference.items()
        }

    sample: dict[str, Any] = {}
    images = manager.get_model_reference_or_none(MODEL_REFERENCE_CATEGORY.image_generation) or {}
    if images:
        key = SAMPLE_IMAGE_MODEL if SAMPLE_IMAGE_MODEL in images else next(iter(images))
        record = images[key]
        sample = {
            "name": record.name,
            "baseline": str(record.baseline),
            "nsfw": record.nsfw,
            "inpainting": record.inpainting,
            "style": None if record.style is None else str(record.style),
            "downloads": [
                {"file_name": d.file_name, "file_url": d.file_url, "sha256sum": d.sha256sum}
                for d in record.config.download
            ],
        }
        if args.legacy_image:
            problems += _compare_with_legacy_file(Path(args.legacy_image) / "stable_diffusion.json", sample)

    # The categories without data: what each 8.6.2 entry point does with modelref's 404 for them.
    empty = [c for c in MODEL_REFERENCE_CATEGORY if c.value not in expected]
    or_none = manager.get_all_model_references_or_none()
    try:
        every = manager.get_all_model_references()
        every_error = None
    except Exception as error:
        every, every_error = {}, f"{type(error).__name__}: {error}"
    empty_behaviour: dict[str, dict[str, Any]] = {}
    for category in empty:
        try:
            manager.get_model_reference(category)
            strict = "returned a value"
        except Exception as error:
            strict = f"raises {type(error).__name__}: {error}"
        empty_behaviour[category.value] = {
            "http": _raw_get(f"{args.url}/api/model_references/v2/{category.value}"),
            "get_all_model_references_or_none": _describe(or_none.get(category, KEY_ABSENT)),
            "get_all_model_references": every_error or _describe(every.get(category, KEY_ABSENT)),
            "get_model_reference_or_none": _describe(manager.get_model_reference_or_none(category)),
            "get_model_reference": strict,
            "managed_elsewhere": category in meta_consts.categories_managed_elsewhere,
        }
    for name, count in counts.items():  # the loads above must not have changed what was counted
        if count is not None and len(or_none.get(MODEL_REFERENCE_CATEGORY(name)) or {}) != count:
            problems.append(f"{name}: get_all_model_references_or_none() disagrees with get_model_reference()")

    backend = manager.backend
    result = {
        "label": args.label,
        "url": args.url,
        "library_version": version,
        "backend": type(backend).__name__,
        "base_path": str(base_path),
        "files_written": sorted(p.name for p in base_path.glob("*.json")),
        "primary_hits": getattr(backend, "_primary_hits", None),
        "github_fallbacks": getattr(backend, "_github_fallbacks", None),
        "counts": counts,
        "records": records,
        "load_errors": load_errors,
        "sample": sample,
        "empty_behaviour": empty_behaviour,
        "requests": requests,
        "messages": sorted(set(messages)),
        "problems": problems,
    }
    Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=True))
    _print_run(result)
    return 0


def _compare_with_legacy_file(path: Path, sample: dict[str, Any]) -> list[str]:
    """The sample's values that are not converted (nsfw, urls, sha256) must equal the legacy file's."""
    if not path.is_file():
        return [f"{path}: missing, cannot cross-check the sample record"]
    legacy = json.loads(path.read_text(encoding="utf-8")).get(sample["name"])
    if legacy is None:
        return [f"{path}: has no record {sample['name']!r}"]
    problems = []
    if legacy.get("nsfw") != sample["nsfw"]:
        problems.append(f"sample {sample['name']}: nsfw {sample['nsfw']!r} != legacy file {legacy.get('nsfw')!r}")
    sha_by_file = {f.get("path"): f.get("sha256sum") for f in legacy.get("config", {}).get("files", [])}
    legacy_downloads = {d["file_name"]: d["file_url"] for d in legacy.get("config", {}).get("download", [])}
    got = {d["file_name"]: d for d in sample["downloads"]}
    if set(got) != set(legacy_downloads):
        problems.append(f"sample {sample['name']}: download files {sorted(got)} != legacy {sorted(legacy_downloads)}")
    for file_name, url in legacy_downloads.items():
        if file_name in got and got[file_name]["file_url"] != url:
            problems.append(f"sample {sample['name']}: {file_name} url {got[file_name]['file_url']!r} != {url!r}")
        if file_name in got and sha_by_file.get(file_name) and got[file_name]["sha256sum"] != sha_by_file[file_name]:
            problems.append(f"sample {sample['name']}: {file_name} sha256sum differs from the legacy file")
    return problems


def _print_run(result: dict[str, Any]) -> None:
    statuses: dict[str, int] = {}
    for request in result["requests"]:
        key = f"{request['status']}" + (f" {request['error_code']}" if request["error_code"] else "")
        statuses[key] = statuses.get(key, 0) + 1
    print(
        f"   8.6.2 used {result['backend']}: {len(result['requests'])} GETs "
        f"({', '.join(f'{n} x {s}' for s, n in sorted(statuses.items()))}), "
        f"PRIMARY-API hits {result['primary_hits']}, GitHub fallbacks {result['github_fallbacks']}, "
        f"{len(result['files_written'])} files cached in its private {result['base_path']}"
    )
    for name, error in result["load_errors"].items():
        print(f"   LOAD FAILED {name}: {error}")
    for problem in result["problems"]:
        print(f"   PROBLEM: {problem}")


def _print_empty_categories(primary: dict[str, Any], replica: dict[str, Any]) -> None:
    """What 8.6.2 does with the categories modelref has no data for (informational: never a failure)."""
    print("categories without data (informational, not a failure):")
    for name, behaviour in primary["empty_behaviour"].items():
        http = behaviour["http"]
        note = " (8.6.2: managed elsewhere, never loaded)" if behaviour.get("managed_elsewhere") else ""
        print(f"  {name}{note}: GET .../v2/{name} -> {http['status']} X-Error-Code: {http['error_code']}")
        print(f"      body: {http['body'][:160]}")
        for label, result in (("PRIMARY", primary), ("REPLICA", replica)):
            if label == "REPLICA" and result["empty_behaviour"].get(name) == behaviour:
                print("      (same from the REPLICA)")
                continue
            shown = result["empty_behaviour"].get(name, {})
            for entry in (
                "get_all_model_references_or_none",
                "get_all_model_references",
                "get_model_reference_or_none",
            ):
                print(f"      {label} {entry}()[{name}] -> {shown.get(entry)}")
            print(f"      {label} get_model_reference({name}) -> {shown.get('get_model_reference')}")
    messages = sorted(set(primary["messages"]) | set(replica["messages"]))
    if messages:
        print("8.6.2's log (WARNING and above, both runs):")
        for message in messages:
            print(f"  {message[:300]}")


def compare(args: argparse.Namespace) -> int:
    expected: dict[str, int] = json.loads(args.expected)
    primary = json.loads(Path(args.primary).read_text())
    replica = json.loads(Path(args.replica).read_text())
    failures: list[str] = [f"{r['label']}: {p}" for r in (primary, replica) for p in r["problems"]]

    def shown(count: int | None) -> str:
        return "FAILED" if count is None else str(count)

    print()
    header = f"{'category':<18} {'expected':>9} {'from PRIMARY':>13} {'from REPLICA':>13}  "
    print(header)
    print("-" * len(header))
    for name, count in expected.items():
        got = [r["counts"].get(name) for r in (primary, replica)]
        ok = all(g == count for g in got)
        print(f"{name:<18} {count:>9} {shown(got[0]):>13} {shown(got[1]):>13}  {'ok' if ok else 'MISMATCH'}")
        if not ok:
            failures.append(f"{name}: expected {count}, PRIMARY {got[0]}, REPLICA {got[1]}")
    print(
        f"{'total':<18} {sum(expected.values()):>9} "
        f"{sum(c or 0 for c in primary['counts'].values()):>13} "
        f"{sum(c or 0 for c in replica['counts'].values()):>13}"
    )
    print()

    # Every record, as 8.6.2 parsed it, must be identical whether read from the PRIMARY or the REPLICA.
    differing = []
    for name in expected:
        a, b = primary["records"].get(name, {}), replica["records"].get(name, {})
        keys = sorted(set(a) | set(b))
        bad = [k for k in keys if a.get(k) != b.get(k)]
        if bad:
            differing.append(name)
            failures.append(f"{name}: {len(bad)} records differ between PRIMARY and REPLICA (e.g. {bad[:3]})")
    print(
        "every record (all fields as 8.6.2 parsed them) identical between PRIMARY and REPLICA: "
        + ("yes" if not differing else f"NO ({', '.join(differing)})")
    )

    sample_p, sample_r = primary["sample"], replica["sample"]
    if sample_p:
        print(f"sample image_generation record {sample_p['name']!r} (8.6.2 attribute names):")
        for field in ("baseline", "nsfw", "inpainting", "style"):
            same = sample_p.get(field) == sample_r.get(field)
            print(
                f"  .{field:<11} PRIMARY {sample_p.get(field)!r:<28} REPLICA {sample_r.get(field)!r:<28} "
                f"{'equal' if same else 'DIFFERENT'}"
            )
        replica_downloads = {d["file_name"]: d for d in sample_r.get("downloads", [])}
        for download in sample_p["downloads"]:
            same = "equal" if replica_downloads.get(download["file_name"]) == download else "DIFFERENT"
            print(f"  .config.download[{download['file_name']!r}]")
            print(f"      .file_url  {download['file_url']}")
            print(f"      .sha256sum {download['sha256sum']}  {same}")
        if sample_p != sample_r:
            failures.append(f"sample record {sample_p['name']!r} differs between PRIMARY and REPLICA")
    else:
        failures.append("no image_generation record to sample")

    for label, result in (("PRIMARY", primary), ("REPLICA", replica)):
        if result["github_fallbacks"]:
            failures.append(f"{label}: 8.6.2 fell back to GitHub {result['github_fallbacks']} times")
    print()
    _print_empty_categories(primary, replica)
    print()
    if failures:
        print("INTEROP FAILED:")
        for failure in failures:
            print(f"  - {failure}")
        return 1
    print(
        f"interop ok: horde-model-reference {primary['library_version']} loads all {len(expected)} categories "
        "with data from a modelref PRIMARY and REPLICA"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_load = sub.add_parser("load", help="load the reference from one server and write the result")
    p_load.add_argument("--label", required=True)
    p_load.add_argument("--url", required=True, help="the server's root URL (without /api)")
    p_load.add_argument("--expected", required=True, help="JSON {category: record count} from the files")
    p_load.add_argument("--legacy-image", help="the legacy image folder, to cross-check the sample record")
    p_load.add_argument("--workdir", required=True, help="an empty private folder: 8.6.2's cache and cwd")
    p_load.add_argument("--out", required=True)
    p_compare = sub.add_parser("compare", help="print the table and fail on any mismatch")
    p_compare.add_argument("--expected", required=True)
    p_compare.add_argument("primary")
    p_compare.add_argument("replica")
    args = parser.parse_args()
    if sys.version_info[:2] != (3, 12):
        print(f"interop_check.py: needs Python 3.12 (horde-model-reference 8.6.2), got {sys.version}", file=sys.stderr)
        return 1
    return load(args) if args.command == "load" else compare(args)


if __name__ == "__main__":
    sys.exit(main())
