from __future__ import annotations

import pytest

from modelref.domain.categories import CATEGORY_INFO, Category
from modelref.domain.deployment import Deployment, ReplicateMode
from modelref.domain.formats import Format
from modelref.errors import NotServed, NotWritable

PRIMARY, REPLICA = ReplicateMode.PRIMARY, ReplicateMode.REPLICA
V2, LEGACY = Format.V2, Format.LEGACY

# API.md §1.5, the guards' failure details
G_PRIMARY = (
    "This instance is in REPLICA mode and does not support write operations. Only PRIMARY instances can modify data."
)
G_QWRITE = (
    "This instance is in REPLICA mode and does not support write operations. Only PRIMARY instances can queue model "
    "changes."
)
G_META = "Metadata tracking is not supported in REPLICA mode"

WITHOUT_LEGACY = [c for c, info in CATEGORY_INFO.items() if info.legacy_file is None]
WITH_LEGACY = [c for c, info in CATEGORY_INFO.items() if info.legacy_file is not None]
BOTH_FORMATS = pytest.mark.parametrize("canonical", [V2, LEGACY], ids=str)


def test_the_categories_without_a_legacy_format() -> None:
    assert set(WITHOUT_LEGACY) == {
        Category.VIDEO_GENERATION,
        Category.AUDIO_GENERATION,
        Category.LORA,
        Category.TI,
    }


def test_defaults_are_a_writable_v2_primary() -> None:
    deployment = Deployment()
    assert (deployment.mode, deployment.canonical_format, deployment.writable) == (PRIMARY, V2, True)
    assert not Deployment(REPLICA).writable


# -- G-PRIMARY --------------------------------------------------------------------------------------------------


@BOTH_FORMATS
def test_primary_passes_require_primary(canonical: Format) -> None:
    Deployment(PRIMARY, canonical).require_primary()


@BOTH_FORMATS
def test_replica_fails_require_primary(canonical: Format) -> None:
    with pytest.raises(NotWritable) as error:
        Deployment(REPLICA, canonical).require_primary()
    assert error.value.detail == G_PRIMARY
    assert error.value.code == "not_writable"


# -- G-V2WRITE / G-V1WRITE --------------------------------------------------------------------------------------


@pytest.mark.parametrize("category", list(Category), ids=str)
def test_v2_primary_takes_v2_writes_for_every_category(category: Category) -> None:
    Deployment(PRIMARY, V2).require_writes(V2, category)


@pytest.mark.parametrize("category", list(Category), ids=str)
def test_v2_primary_refuses_legacy_writes(category: Category) -> None:
    with pytest.raises(NotWritable) as error:
        Deployment(PRIMARY, V2).require_writes(LEGACY, category)
    assert error.value.detail == (
        "This deployment does not expose write operations for this API. Expected canonical_format='legacy', got 'v2'."
    )


@pytest.mark.parametrize("category", WITH_LEGACY, ids=str)
def test_legacy_primary_takes_legacy_writes(category: Category) -> None:
    Deployment(PRIMARY, LEGACY).require_writes(LEGACY, category)


@pytest.mark.parametrize("category", WITH_LEGACY, ids=str)
def test_legacy_primary_refuses_v2_writes_to_categories_with_a_legacy_format(category: Category) -> None:
    with pytest.raises(NotWritable) as error:
        Deployment(PRIMARY, LEGACY).require_writes(V2, category)
    assert error.value.detail == (
        "This deployment does not expose write operations for this API. Expected canonical_format='v2', got 'legacy'."
    )


@pytest.mark.parametrize("category", WITHOUT_LEGACY, ids=str)
def test_legacy_primary_takes_v2_writes_to_categories_without_a_legacy_format(category: Category) -> None:
    Deployment(PRIMARY, LEGACY).require_writes(V2, category)


@BOTH_FORMATS
@pytest.mark.parametrize("api", [V2, LEGACY], ids=str)
@pytest.mark.parametrize("category", [Category.IMAGE_GENERATION, Category.LORA], ids=str)
def test_replica_refuses_every_write(canonical: Format, api: Format, category: Category) -> None:
    with pytest.raises(NotWritable) as error:
        Deployment(REPLICA, canonical).require_writes(api, category)
    assert error.value.detail == G_PRIMARY


# -- the pending queue ------------------------------------------------------------------------------------------


@BOTH_FORMATS
def test_primary_serves_the_queue_under_its_canonical_prefix(canonical: Format) -> None:
    Deployment(PRIMARY, canonical).require_queue(canonical)


@pytest.mark.parametrize(("canonical", "api"), [(V2, LEGACY), (LEGACY, V2)], ids=["v2-canonical", "legacy-canonical"])
def test_the_other_prefix_does_not_serve_the_queue(canonical: Format, api: Format) -> None:
    with pytest.raises(NotServed) as error:
        Deployment(PRIMARY, canonical).require_queue(api)
    assert error.value.detail == (
        "The pending queue is served under the canonical format's prefix; this deployment's canonical "
        f"format is '{canonical.value}', not the /{api.api_prefix} one."
    )


@BOTH_FORMATS
def test_replica_refuses_the_queue_with_the_g_qwrite_detail(canonical: Format) -> None:
    """API.md §1.5 G-QWRITE: a REPLICA says it cannot *queue* changes, not the record-write detail."""
    with pytest.raises(NotWritable) as error:
        Deployment(REPLICA, canonical).require_queue(canonical)
    assert error.value.detail == G_QWRITE


# -- G-META -----------------------------------------------------------------------------------------------------


@BOTH_FORMATS
def test_primary_serves_metadata_under_its_canonical_api(canonical: Format) -> None:
    Deployment(PRIMARY, canonical).require_metadata(canonical)


@pytest.mark.parametrize(("canonical", "api"), [(V2, LEGACY), (LEGACY, V2)], ids=["v2-canonical", "legacy-canonical"])
def test_metadata_under_the_other_api_is_unavailable(canonical: Format, api: Format) -> None:
    with pytest.raises(NotServed) as error:
        Deployment(PRIMARY, canonical).require_metadata(api)
    expected = "LEGACY" if api is LEGACY else "v2"  # the existing service's spelling (API.md §6, §12)
    assert error.value.detail == (
        f"This endpoint is only available when canonical_format='{expected}'. "
        f"Current setting: canonical_format='{canonical.value}'"
    )


@BOTH_FORMATS
@pytest.mark.parametrize("api", [V2, LEGACY], ids=str)
def test_replica_has_no_metadata_whatever_the_api(canonical: Format, api: Format) -> None:
    with pytest.raises(NotServed) as error:
        Deployment(REPLICA, canonical).require_metadata(api)
    assert error.value.detail == G_META
    assert error.value.code == "not_served"
