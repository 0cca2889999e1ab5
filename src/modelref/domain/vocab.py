"""Known values (DATA.md §3, §5.3) and the checks against them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from modelref.domain.records import (
    ControlNetModelRecord,
    ImageGenerationModelRecord,
    RecordBase,
    TextGenerationModelRecord,
)

IMAGE_BASELINES: Final[dict[str, tuple[str, ...]]] = {
    "infer": (),
    "stable_diffusion_1": (
        "stable diffusion 1",
        "stable diffusion 1.4",
        "stable diffusion 1.5",
        "SD1",
        "SD14",
        "SD1.4",
        "SD15",
        "SD1.5",
        "stable_diffusion",
        "stable_diffusion_1",
        "stable_diffusion_1.4",
        "stable_diffusion_1.5",
    ),
    "stable_diffusion_2_768": (),
    "stable_diffusion_2_512": (),
    "stable_diffusion_xl": ("stable diffusion xl", "SDXL", "stable_diffusion_xl"),
    "stable_cascade": ("stable_cascade", "stable cascade"),
    "flux_1": (),
    "flux_schnell": ("flux_schnell", "flux schnell"),
    "flux_dev": ("flux_dev", "flux dev"),
    "qwen_image": ("qwen_image", "qwen image", "qwen-image", "qwen"),
    "z_image_turbo": ("z_image_turbo", "z image turbo", "zimage-turbo", "zimage"),
}
"""Each known image baseline with the alternative names accepted for it."""

BASELINE_ALIASES: Final[dict[str, str]] = {alt: value for value, alts in IMAGE_BASELINES.items() for alt in alts}

LEGACY_TO_V2_BASELINE: Final[dict[str, str]] = {
    "stable diffusion 1": "stable_diffusion_1",
    "stable diffusion 2": "stable_diffusion_2_768",
    "stable diffusion 2 512": "stable_diffusion_2_512",
    "stable_diffusion_xl": "stable_diffusion_xl",
    "stable_cascade": "stable_cascade",
}
V2_TO_LEGACY_BASELINE: Final[dict[str, str]] = {v: k for k, v in LEGACY_TO_V2_BASELINE.items()}

MODEL_STYLES: Final = frozenset({"generalist", "anime", "furry", "artistic", "other", "realistic"})

CONTROLNET_STYLES: Final = (
    "control_seg",
    "control_scribble",
    "control_fakescribbles",
    "control_openpose",
    "control_normal",
    "control_mlsd",
    "control_hough",
    "control_hed",
    "control_canny",
    "control_depth",
    "control_qr",
    "control_qr_xl",
    "control_lineart",
    "control_lineart_anime",
    "control_normal_bae",
    "control_recolor",
    "control_tile",
)

FEATURES: Final = ("hires_fix", "loras", "inpainting", "controlnet")

TEXT_BACKENDS: Final = ("aphrodite", "koboldcpp")

TEXT_DEFAULTS: Final[dict[str, object]] = {
    "baseline": "",
    "parameters": None,
    "description": "",
    "version": "1",
    "style": "generalist",
    "nsfw": False,
}
"""The text repository's defaults.json, merged into every db.json entry in this key order."""

GENERATION_PARAMS: Final[dict[str, object]] = {
    "n": 1,
    "frmtadsnsp": False,
    "frmtrmblln": False,
    "frmtrmspch": False,
    "frmttriminc": False,
    "max_context_length": 1024,
    "max_length": 80,
    "rep_pen": 3,
    "rep_pen_range": 4096,
    "rep_pen_slope": 10,
    "singleline": False,
    "temperature": 5,
    "tfs": 1,
    "top_a": 1,
    "top_k": 100,
    "top_p": 1,
    "typical": 1,
    "sampler_order": [0],
    "use_default_badwordsids": True,
    "stop_sequence": ["string"],
    "min_p": 0,
    "smoothing_factor": 0,
    "dynatemp_range": 0,
    "dynatemp_exponent": 1,
}
"""The text repository's generation_params.json: its keys are the allowed text ``settings`` keys."""


@dataclass(frozen=True, slots=True)
class Problem:
    """A record field that is not what the data model expects."""

    field: str
    message: str
    severity: Literal["error", "warning"]


def known_value_problems(record: RecordBase) -> list[Problem]:
    """Check a record's fields against the known values.

    "error" problems reject a write; on import every problem is only reported.
    """
    problems: list[Problem] = []
    if isinstance(record, ImageGenerationModelRecord):
        if record.baseline not in IMAGE_BASELINES and record.baseline not in BASELINE_ALIASES:
            problems.append(Problem("baseline", f"unknown image baseline {record.baseline!r}", "error"))
        if record.style is not None and record.style not in MODEL_STYLES:
            problems.append(Problem("style", f"unknown style {record.style!r}", "error"))
        for feature in record.features_not_supported or ():
            if feature not in FEATURES:
                problems.append(Problem("features_not_supported", f"unknown feature {feature!r}", "error"))
    elif isinstance(record, ControlNetModelRecord):
        if record.controlnet_style is not None and record.controlnet_style not in CONTROLNET_STYLES:
            problems.append(
                Problem("controlnet_style", f"unknown controlnet style {record.controlnet_style!r}", "warning")
            )
    elif isinstance(record, TextGenerationModelRecord):
        for key in record.settings or {}:
            if key not in GENERATION_PARAMS:
                problems.append(Problem("settings", f"unknown generation setting {key!r}", "error"))
        if record.parameters_count <= 0:
            problems.append(Problem("parameters", "parameter count must be a positive integer", "error"))
    return problems


def backend_of(name: str) -> str | None:
    """Return the backend whose prefix *name* carries (``koboldcpp/x`` → ``koboldcpp``), else None."""
    for backend in TEXT_BACKENDS:
        if name.startswith(backend + "/"):
            return backend
    return None


def strip_backend(name: str) -> str:
    """Remove one backend prefix, if any (DATA.md §8.3)."""
    backend = backend_of(name)
    return name[len(backend) + 1 :] if backend else name
