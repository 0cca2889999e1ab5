"""Image-repository legacy shape ⇄ v2, lossless (DATA.md §5, §6, §7.2, §7.5)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from modelref.domain.categories import CATEGORY_INFO, Category
from modelref.domain.records import UNKNOWN_SHA256, RecordBase, parse_record
from modelref.domain.vocab import LEGACY_TO_V2_BASELINE, V2_TO_LEGACY_BASELINE
from modelref.errors import InvalidRecord

_IMAGE_FIELDS = (
    "optimization",
    "tags",
    "showcases",
    "min_bridge_version",
    "trigger",
    "homepage",
    "style",
    "requirements",
    "size_on_disk_bytes",
    "features_not_supported",
)
_LISTS = ("tags", "showcases", "trigger")
"""Image lists that are ``[]`` in v2 when absent; a legacy record that spells one out empty keeps it in
``legacy_extras``, so the legacy file renders the same again."""
_FILE_KEYS = ("path", "md5sum", "sha256sum", "file_type", "content_hash")
_CONSUMED_COMMON = ("name", "description", "version", "config")


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem: ``field.path: message``."""
    parts = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "(record)"
        parts.append(f"{loc}: {item['msg']}")
    return "; ".join(parts)


def _is_slow_host(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return "civitai" in host


def _config_to_v2(config: Any, where: str) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise InvalidRecord(f"{where}: field 'config' must be an object")
    files = config.get("files", [])
    downloads = config.get("download", [])
    if not isinstance(files, list) or not isinstance(downloads, list):
        raise InvalidRecord(f"{where}: fields 'config.files' and 'config.download' must be lists")
    by_path: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(files):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise InvalidRecord(f"{where}: field 'config.files[{index}].path' must be a string")
        by_path.setdefault(entry["path"], entry)

    linked: set[str] = set()
    v2_downloads: list[dict[str, Any]] = []
    for index, entry in enumerate(downloads):
        if not isinstance(entry, dict) or not isinstance(entry.get("file_name"), str):
            raise InvalidRecord(f"{where}: field 'config.download[{index}].file_name' must be a string")
        file_name = entry["file_name"]
        file_entry = by_path.get(file_name)
        if file_entry is None:
            raise InvalidRecord(
                f"{where}: field 'config.download[{index}].file_name': {file_name!r} has no entry in config.files"
            )
        linked.add(file_name)
        url = entry.get("file_url") or ""
        download: dict[str, Any] = {
            "file_name": file_name,
            "file_url": url,
            "sha256sum": file_entry.get("sha256sum") or UNKNOWN_SHA256,
            "content_hash": file_entry.get("content_hash"),
            "file_purpose": file_entry.get("file_type"),
            "known_slow_download": _is_slow_host(url) if isinstance(url, str) else False,
            "md5sum": file_entry.get("md5sum"),
        }
        v2_downloads.append(download)

    result: dict[str, Any] = {"download": v2_downloads}
    if "embedded_component_hashes" in config:
        result["embedded_component_hashes"] = config["embedded_component_hashes"]
    extra_files = [entry for entry in files if entry["path"] not in linked]
    if extra_files:
        result["legacy_extra_files"] = extra_files
    return result


def legacy_type(category: Category, record: RecordBase) -> str:
    """The legacy ``type`` a v2 record renders with when it carries none of its own."""
    if category is Category.CONTROLNET:
        style = getattr(record, "controlnet_style", None)
        return str(style) if style else "control_canny"
    return CATEGORY_INFO[category].legacy_type or category.value


def legacy_to_v2(category: Category, key: str, legacy: Any, file_name: str = "") -> tuple[RecordBase, list[str]]:
    """Convert one legacy image-repository record to v2; return it with its non-fatal warnings.

    Raises InvalidRecord (naming the file, record and field) when it cannot be converted.
    """
    where = f"{file_name or CATEGORY_INFO[category].legacy_file}: record {key!r}"
    if not isinstance(legacy, dict):
        raise InvalidRecord(f"{where}: must be a JSON object, got {type(legacy).__name__}")
    warnings: list[str] = []
    name = legacy.get("name", key)
    if name != key:
        warnings.append(f"{where}: name {name!r} differs from its key")
    if legacy.get("available") is True:
        warnings.append(f"{where}: 'available' is true")
    doc: dict[str, Any] = {"record_type": category.value, "name": name}
    for field in ("description", "version"):
        if field in legacy:
            doc[field] = legacy[field]
    doc["config"] = _config_to_v2(legacy.get("config", {}), where)
    consumed = set(_CONSUMED_COMMON)
    extras: dict[str, Any] = {}

    if category is Category.IMAGE_GENERATION:
        baseline = legacy.get("baseline")
        doc["baseline"] = LEGACY_TO_V2_BASELINE.get(baseline, baseline) if isinstance(baseline, str) else baseline
        doc["inpainting"] = legacy.get("inpainting", False)
        doc["nsfw"] = legacy.get("nsfw") or False
        consumed |= {"baseline", "inpainting", "nsfw"}
        for field in _IMAGE_FIELDS:
            if field in legacy:
                doc[field] = legacy[field]
                if not (field in _LISTS and legacy[field] == []):
                    consumed.add(field)
        for url in legacy.get("showcases") or ():
            if isinstance(url, str) and "huggingface" in url:
                warnings.append(f"{where}: showcase URL {url!r} points to huggingface")
    elif category is Category.CLIP:
        if "pretrained_name" in legacy:
            doc["pretrained_name"] = legacy["pretrained_name"]
            consumed.add("pretrained_name")
    elif category is Category.CONTROLNET:
        style = legacy.get("type", legacy.get("style"))
        doc["controlnet_style"] = style
        for field in ("type", "style"):
            if legacy.get(field) == style:
                consumed.add(field)

    default_type = CATEGORY_INFO[category].legacy_type
    if default_type is not None and legacy.get("type") == default_type:
        consumed.add("type")
    for field, value in legacy.items():
        if field not in consumed:
            extras[field] = value
    if extras:
        doc["legacy_extras"] = extras
    try:
        record = parse_record(category, doc)
    except ValidationError as error:
        raise InvalidRecord(f"{where}: {describe_validation_error(error)}") from None
    return record, warnings


def _file_entry(category: Category, download: Any) -> dict[str, Any]:
    values = {
        "path": download.file_name,
        "md5sum": download.md5sum,
        "sha256sum": None if download.sha256sum == UNKNOWN_SHA256 else download.sha256sum,
        "file_type": download.file_purpose,
        "content_hash": download.content_hash,
    }
    order = (
        _FILE_KEYS
        if category is Category.IMAGE_GENERATION
        else ("path", "sha256sum", "md5sum", "file_type", "content_hash")
    )
    return {k: values[k] for k in order if values[k] is not None}


def v2_to_legacy(category: Category, record: RecordBase) -> dict[str, Any]:
    """Render a v2 record in its category's legacy shape (keys in the real files' order)."""
    info = CATEGORY_INFO[category]
    extras = dict(record.legacy_extras or {})
    values: dict[str, Any] = {"name": record.name, "type": extras.pop("type", legacy_type(category, record))}
    if record.description is not None:
        values["description"] = record.description
    if record.version is not None:
        values["version"] = record.version
    doc = record.to_document()
    if category is Category.IMAGE_GENERATION:
        baseline = doc["baseline"]
        values["baseline"] = V2_TO_LEGACY_BASELINE.get(baseline, baseline)
        values["inpainting"] = doc.get("inpainting") or False
        values["nsfw"] = doc["nsfw"]
        values["download_all"] = extras.pop("download_all", False)
        for field in _IMAGE_FIELDS:
            if field in doc and not (field in _LISTS and not doc[field]):
                values[field] = doc[field]
    elif category is Category.CLIP and "pretrained_name" in doc:
        values["pretrained_name"] = doc["pretrained_name"]
    elif category is Category.CONTROLNET:
        values["style"] = extras.pop("style", values["type"])

    config: dict[str, Any] = {
        "files": [_file_entry(category, d) for d in record.config.download]
        + list(record.config.legacy_extra_files or ()),
        "download": [
            {"file_name": d.file_name, "file_path": "", "file_url": d.file_url} for d in record.config.download
        ],
    }
    if record.config.embedded_component_hashes is not None:
        config["embedded_component_hashes"] = dict(record.config.embedded_component_hashes)
    values["config"] = config
    for field, value in extras.items():
        values.setdefault(field, value)

    position = {k: i for i, k in enumerate(info.legacy_keys)}
    ordered = sorted(values, key=lambda k: position.get(k, len(position)))
    return {k: values[k] for k in ordered}
