"""The 14 model categories and everything that is fixed per category.

Adding a category is a data change: one enum member and one row in ``CATEGORY_INFO``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    IMAGE_GENERATION = "image_generation"
    TEXT_GENERATION = "text_generation"
    CLIP = "clip"
    CONTROLNET = "controlnet"
    BLIP = "blip"
    ESRGAN = "esrgan"
    GFPGAN = "gfpgan"
    CODEFORMER = "codeformer"
    SAFETY_CHECKER = "safety_checker"
    VIDEO_GENERATION = "video_generation"
    AUDIO_GENERATION = "audio_generation"
    MISCELLANEOUS = "miscellaneous"
    LORA = "lora"
    TI = "ti"


class ModelDomain(StrEnum):
    IMAGE = "image"
    TEXT = "text"
    VIDEO = "video"
    AUDIO = "audio"
    RENDERED_3D = "rendered_3d"


class ModelPurpose(StrEnum):
    GENERATION = "generation"
    POST_PROCESSING = "post_processing"
    AUXILIARY_OR_PATCH = "auxiliary_or_patch"
    FEATURE_EXTRACTOR = "feature_extractor"
    SAFETY_CHECKER = "safety_checker"
    MISCELLANEOUS = "miscellaneous"


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    """What is fixed for one category (DATA.md §2, §5.2)."""

    domain: ModelDomain
    purpose: ModelPurpose
    v2_file: str
    legacy_file: str | None
    """File name in the legacy GitHub repositories; None when the category has no legacy format."""
    legacy_type: str | None = None
    """The legacy ``type`` written when a record carries none of its own."""
    legacy_keys: tuple[str, ...] = ()
    """Key order of a legacy record in the real files."""
    managed_elsewhere: bool = False


_UTILITY_KEYS = ("name", "type", "description", "version", "style", "config", "available")

CATEGORY_INFO: dict[Category, CategoryInfo] = {
    Category.IMAGE_GENERATION: CategoryInfo(
        ModelDomain.IMAGE,
        ModelPurpose.GENERATION,
        "stable_diffusion.json",
        "stable_diffusion.json",
        "ckpt",
        (
            "name",
            "baseline",
            "optimization",
            "type",
            "inpainting",
            "description",
            "tags",
            "showcases",
            "version",
            "style",
            "trigger",
            "homepage",
            "nsfw",
            "download_all",
            "requirements",
            "config",
            "available",
            "features_not_supported",
            "size_on_disk_bytes",
            "min_bridge_version",
        ),
    ),
    Category.TEXT_GENERATION: CategoryInfo(
        ModelDomain.TEXT, ModelPurpose.GENERATION, "text_generation.json", "db.json"
    ),
    Category.CLIP: CategoryInfo(
        ModelDomain.IMAGE,
        ModelPurpose.FEATURE_EXTRACTOR,
        "clip.json",
        "clip.json",
        "clip",
        ("name", "type", "description", "version", "pretrained_name", "config", "available"),
    ),
    Category.CONTROLNET: CategoryInfo(
        ModelDomain.IMAGE,
        ModelPurpose.AUXILIARY_OR_PATCH,
        "controlnet.json",
        "controlnet.json",
        None,
        ("name", "type", "description", "version", "style", "nsfw", "download_all", "config", "available"),
    ),
    Category.BLIP: CategoryInfo(
        ModelDomain.IMAGE,
        ModelPurpose.FEATURE_EXTRACTOR,
        "blip.json",
        "blip.json",
        "blip",
        ("name", "type", "description", "version", "config", "available"),
    ),
    Category.ESRGAN: CategoryInfo(
        ModelDomain.IMAGE, ModelPurpose.POST_PROCESSING, "esrgan.json", "esrgan.json", "realesrgan", _UTILITY_KEYS
    ),
    Category.GFPGAN: CategoryInfo(
        ModelDomain.IMAGE, ModelPurpose.POST_PROCESSING, "gfpgan.json", "gfpgan.json", "gfpgan", _UTILITY_KEYS
    ),
    Category.CODEFORMER: CategoryInfo(
        ModelDomain.IMAGE,
        ModelPurpose.POST_PROCESSING,
        "codeformer.json",
        "codeformer.json",
        "CodeFormers",
        _UTILITY_KEYS,
    ),
    Category.SAFETY_CHECKER: CategoryInfo(
        ModelDomain.IMAGE,
        ModelPurpose.SAFETY_CHECKER,
        "safety_checker.json",
        "safety_checker.json",
        "safety_checker",
        ("name", "type", "description", "version", "config", "available"),
    ),
    Category.VIDEO_GENERATION: CategoryInfo(ModelDomain.VIDEO, ModelPurpose.GENERATION, "video_generation.json", None),
    Category.AUDIO_GENERATION: CategoryInfo(ModelDomain.AUDIO, ModelPurpose.GENERATION, "audio_generation.json", None),
    Category.MISCELLANEOUS: CategoryInfo(
        ModelDomain.IMAGE,
        ModelPurpose.MISCELLANEOUS,
        "miscellaneous.json",
        "miscellaneous.json",
        "layer_diffuse",
        ("name", "type", "baseline", "description", "version", "config", "available"),
    ),
    Category.LORA: CategoryInfo(
        ModelDomain.IMAGE, ModelPurpose.AUXILIARY_OR_PATCH, "lora.json", None, managed_elsewhere=True
    ),
    Category.TI: CategoryInfo(
        ModelDomain.IMAGE, ModelPurpose.AUXILIARY_OR_PATCH, "ti.json", None, managed_elsewhere=True
    ),
}

IMAGE_REPO_CATEGORIES: tuple[Category, ...] = tuple(
    c for c, info in CATEGORY_INFO.items() if info.legacy_file is not None and c is not Category.TEXT_GENERATION
)
"""Categories whose legacy file lives in the image repository (one JSON object per file)."""


SEARCH_ORDER: tuple[Category, ...] = (
    Category.BLIP,
    Category.CLIP,
    Category.CODEFORMER,
    Category.CONTROLNET,
    Category.ESRGAN,
    Category.GFPGAN,
    Category.SAFETY_CHECKER,
    Category.IMAGE_GENERATION,
    Category.TEXT_GENERATION,
    Category.VIDEO_GENERATION,
    Category.AUDIO_GENERATION,
    Category.MISCELLANEOUS,
    Category.LORA,
    Category.TI,
)
"""The order a cross-category search walks the categories: the existing service's, so pages match."""


def parse_category(value: str) -> Category | None:
    """Return the category named *value*, or None (never raises)."""
    try:
        return Category(value)
    except ValueError:
        return None
