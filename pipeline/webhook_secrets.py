"""Each project's webhook signing secrets: made on first need, rotated with an overlap.

A project signs its deliveries with its own secret, so a tenant who can verify its own
deliveries cannot forge another's. Rotating makes a new current secret and keeps the one it
replaced valid for an overlap, during which deliveries carry both signatures: receivers
move to the new secret at their pace. A project's first secret keeps the installation's old
shared secret (`STROBE_WEBHOOK_SECRET`) valid beside it for the same overlap, so receivers
set up before secrets were per project keep working while they move.
"""

from __future__ import annotations

import secrets
import time

from pipeline.store import WebhookSecret, WebhookSecretsPort

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(24)


def signing_secrets(
    store: WebhookSecretsPort, project_id: str, *, legacy: str | None, overlap_s: float
) -> list[WebhookSecret]:
    """The project's valid secrets, current first; its first one is made here if need be."""
    found = store.webhook_secrets(project_id)
    if found:
        return found
    return store.ensure_webhook_secret(
        project_id, new_secret(), legacy=legacy or None, legacy_until=time.time() + overlap_s
    )


def rotate(store: WebhookSecretsPort, project_id: str, *, overlap_s: float) -> list[WebhookSecret]:
    """A new current secret; the replaced one stays valid for `overlap_s` seconds."""
    return store.rotate_webhook_secret(project_id, new_secret(), time.time() + overlap_s)
