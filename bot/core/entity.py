"""The base of stored entities, on its own so that a port's records (``bot.core.storage``) need
none of the request models of ``bot.core.models``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Entity(BaseModel):
    """Base of stored entities: immutable snapshots."""

    model_config = ConfigDict(frozen=True, defer_build=True)
