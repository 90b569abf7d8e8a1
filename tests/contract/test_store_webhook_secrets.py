"""Webhook signing secrets per project, rotation with an overlap, on every store."""

from __future__ import annotations

import time

from pipeline.store import Store


def secrets_of(store: Store, project: str) -> list[str]:
    return [s.secret for s in store.webhook_secrets(project)]


def test_a_project_has_no_secret_until_one_is_made(store: Store) -> None:
    assert store.webhook_secrets("prj_a") == []
    made = store.ensure_webhook_secret("prj_a", "whsec_a1", legacy=None, legacy_until=0)
    assert [s.secret for s in made] == ["whsec_a1"] and made[0].expires is None
    # Made once: a second caller gets the first one's secret.
    again = store.ensure_webhook_secret("prj_a", "whsec_other", legacy=None, legacy_until=0)
    assert [s.secret for s in again] == ["whsec_a1"]
    assert store.webhook_secrets("prj_b") == []


def test_the_legacy_secret_signs_alongside_the_first_one_until_it_expires(store: Store) -> None:
    until = time.time() + 0.6
    made = store.ensure_webhook_secret("prj_a", "whsec_a1", legacy="whsec_g", legacy_until=until)
    assert [(s.secret, s.expires) for s in made] == [("whsec_a1", None), ("whsec_g", until)]
    time.sleep(0.8)
    assert secrets_of(store, "prj_a") == ["whsec_a1"]


def test_rotation_keeps_the_replaced_secret_for_the_overlap_and_no_older_one(
    store: Store,
) -> None:
    store.ensure_webhook_secret("prj_a", "whsec_1", legacy="whsec_g", legacy_until=time.time() + 60)
    store.ensure_webhook_secret("prj_b", "whsec_b", legacy=None, legacy_until=0)
    rotated = store.rotate_webhook_secret("prj_a", "whsec_2", time.time() + 0.6)
    assert [s.secret for s in rotated] == ["whsec_2", "whsec_1"]  # the legacy one is gone
    assert secrets_of(store, "prj_a") == ["whsec_2", "whsec_1"]
    store.rotate_webhook_secret("prj_a", "whsec_3", time.time() + 60)
    assert secrets_of(store, "prj_a") == ["whsec_3", "whsec_2"]  # two valid at once, at most
    store.rotate_webhook_secret("prj_a", "whsec_4", time.time() - 1)  # no overlap
    assert secrets_of(store, "prj_a") == ["whsec_4"]
    assert secrets_of(store, "prj_b") == ["whsec_b"]  # another project's are untouched


def test_the_replaced_secret_stops_when_its_overlap_ends(store: Store) -> None:
    store.ensure_webhook_secret("prj_a", "whsec_1", legacy=None, legacy_until=0)
    store.rotate_webhook_secret("prj_a", "whsec_2", time.time() + 0.5)
    time.sleep(0.7)
    assert secrets_of(store, "prj_a") == ["whsec_2"]
