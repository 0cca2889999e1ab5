"""A drop-in for the existing library's entry points (``horde_model_reference`` 8.6.2).

A worker switches by changing an import::

    # from horde_model_reference import MODEL_REFERENCE_CATEGORY
    # from horde_model_reference.model_reference_manager import ModelReferenceManager
    from modelref.compat import MODEL_REFERENCE_CATEGORY, ModelReferenceManager

    manager = ModelReferenceManager()
    models = manager.get_model_reference(MODEL_REFERENCE_CATEGORY.image_generation)

Records are modelref's typed records, with the attribute names of the existing library's. This module is
the one place with a process-wide instance (``get_instance()``), as the existing library has; new code
should hold a ``modelref.ModelReference`` of its own.
"""

from __future__ import annotations

import contextlib
import threading
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Self

from modelref.client.reference import ModelReference
from modelref.domain.categories import Category
from modelref.domain.records import RecordBase
from modelref.errors import ModelRefError, NotFound, Unavailable


class MODEL_REFERENCE_CATEGORY(StrEnum):
    """The categories under the existing library's member names (equal to ``Category``'s values)."""

    image_generation = "image_generation"
    text_generation = "text_generation"
    clip = "clip"
    controlnet = "controlnet"
    blip = "blip"
    esrgan = "esrgan"
    gfpgan = "gfpgan"
    codeformer = "codeformer"
    safety_checker = "safety_checker"
    video_generation = "video_generation"
    audio_generation = "audio_generation"
    miscellaneous = "miscellaneous"
    lora = "lora"
    ti = "ti"


class ReferenceUnavailable(Unavailable, RuntimeError):
    """No source answered for a category and there is no copy on disk (a ``RuntimeError``, as the existing
    library raises)."""


class ModelNotFound(NotFound, RuntimeError):
    """``get_model`` of a name the category does not hold (a ``RuntimeError``, as the existing library raises)."""


class ModelReferenceManager:
    """The existing library's manager over a ``ModelReference``: one per process.

    The first construction decides the settings; later ones return the same instance (as the existing
    library does). Arguments the existing library takes and modelref has no use for (``backend``,
    ``replicate_mode``, ``prefetch_strategy``) are accepted and ignored: this is always a REPLICA client.
    """

    _instance: ClassVar[ModelReferenceManager | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()
    reference: ModelReference

    def __new__(
        cls,
        *,
        base_path: str | Path | None = None,
        offline: bool | None = None,
        primary_api_url: str | None = None,
        cache_ttl_seconds: float | None = None,
        **_ignored: Any,
    ) -> Self:
        with cls._lock:
            if cls._instance is None:
                instance = super().__new__(cls)
                instance.reference = ModelReference(
                    primary_api_url, cache_dir=base_path, ttl=cache_ttl_seconds, offline=offline
                )
                cls._instance = instance
            return cls._instance  # type: ignore[return-value]  # the one instance is of this class

    @classmethod
    def get_instance(cls) -> ModelReferenceManager:
        """The process-wide instance; RuntimeError when none was made yet (as the existing library)."""
        with cls._lock:
            if cls._instance is None:
                raise RuntimeError("ModelReferenceManager instance has not been created yet.")
            return cls._instance

    @classmethod
    def has_instance(cls) -> bool:
        with cls._lock:
            return cls._instance is not None

    @classmethod
    def reset(cls) -> None:
        """Forget the instance (tests); the next construction makes a new one."""
        with cls._lock:
            if cls._instance is not None:
                cls._instance.reference.close()
            cls._instance = None

    def get_model_reference(
        self,
        category: MODEL_REFERENCE_CATEGORY | Category | str = Category.IMAGE_GENERATION,
        overwrite_existing: bool = False,
    ) -> dict[str, RecordBase]:
        """Every record of *category* by name (``{}`` for an empty category); ReferenceUnavailable when
        no source answered and there is no copy on disk."""
        try:
            if overwrite_existing:
                self.reference.refresh([category])
            return self.reference.get_category(category)
        except Unavailable as error:
            raise ReferenceUnavailable(error.detail) from None

    def get_model_reference_or_none(
        self, category: MODEL_REFERENCE_CATEGORY | Category | str, overwrite_existing: bool = False
    ) -> dict[str, RecordBase] | None:
        """As ``get_model_reference``, None when the category cannot be had."""
        try:
            return self.get_model_reference(category, overwrite_existing)
        except ModelRefError:
            return None

    def get_all_model_references(
        self, overwrite_existing: bool = False
    ) -> dict[MODEL_REFERENCE_CATEGORY, dict[str, RecordBase]]:
        """Every category's records (an empty category: ``{}``)."""
        if overwrite_existing:
            try:
                self.reference.refresh()
            except Unavailable as error:
                raise ReferenceUnavailable(error.detail) from None
        return {c: self.get_model_reference(c) for c in MODEL_REFERENCE_CATEGORY}

    def get_all_model_references_or_none(
        self, overwrite_existing: bool = False
    ) -> dict[MODEL_REFERENCE_CATEGORY, dict[str, RecordBase] | None]:
        """Every category's records; None for a category that cannot be had."""
        if overwrite_existing:
            with contextlib.suppress(ModelRefError):  # the categories that failed answer None below
                self.reference.refresh()
        return {c: self.get_model_reference_or_none(c) for c in MODEL_REFERENCE_CATEGORY}

    def get_model(
        self, category: MODEL_REFERENCE_CATEGORY | Category | str, model_name: str, overwrite_existing: bool = False
    ) -> RecordBase:
        """One record; ModelNotFound (a RuntimeError) when the category has no such name."""
        found = self.get_model_reference(category, overwrite_existing).get(model_name)
        if found is None:
            raise ModelNotFound(f"Model {model_name} not found in category {Category(category).value}.")
        return found

    def get_model_or_none(
        self, category: MODEL_REFERENCE_CATEGORY | Category | str, model_name: str, overwrite_existing: bool = False
    ) -> RecordBase | None:
        references = self.get_model_reference_or_none(category, overwrite_existing)
        return None if references is None else references.get(model_name)
