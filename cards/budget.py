"""How much ticket text a card may carry, and shrinking until it fits a size limit.

A renderer builds its payload with the most generous :class:`Budget` first and
steps down the ladder until the serialized payload fits. The last step keeps no
summary and no fields, so its size is bounded by the UI strings, the title cut,
the console URL (≤ 2048) and the ref (≤ 256): far below every limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

# Lark limits the *request body* that carries a card to 30 KB (im-v1 message patch:
# "卡片及富文本消息请求体最大不能超过30KB"; the delayed update: "卡片大小需控制在 30KB 以内"), so a
# Lark card is measured as sent (:func:`cards.lark.lark_body_size`), not as card JSON.
LARK_CARD_LIMIT: Final = 30 * 1024
DINGTALK_CARD_LIMIT: Final = 20_000
# Gmail clips an HTML body beyond about 102 KB and hides the rest behind a link.
EMAIL_HTML_LIMIT: Final = 100_000

T = TypeVar("T")


@dataclass(frozen=True)
class Budget:
    """Maximum characters (before escaping) for each kind of ticket text."""

    title: int
    summary: int
    field_name: int
    field_value: int
    fields: int  # how many fields are shown at all
    name: int  # submitter, approver, decided-by
    comment: int  # decision comment and the view's note


LADDER: Final[tuple[Budget, ...]] = (
    Budget(
        title=200, summary=4000, field_name=60, field_value=1000, fields=30, name=60, comment=1000
    ),
    Budget(
        title=150, summary=2000, field_name=40, field_value=400, fields=20, name=60, comment=500
    ),
    Budget(title=120, summary=800, field_name=30, field_value=150, fields=12, name=40, comment=300),
    Budget(title=100, summary=300, field_name=30, field_value=80, fields=6, name=40, comment=200),
    Budget(title=60, summary=0, field_name=0, field_value=0, fields=0, name=30, comment=100),
)
EMAIL_LADDER: Final[tuple[Budget, ...]] = (
    Budget(
        title=300,
        summary=20_000,
        field_name=100,
        field_value=4000,
        fields=60,
        name=100,
        comment=4000,
    ),
    *LADDER,
)


class CardTooLarge(ValueError):
    """Even the smallest budget did not fit: a bug in this package, never the input."""


def json_size(payload: Any) -> int:
    """Bytes of ``payload`` as JSON, in the largest form a client may send.

    ASCII-escaped JSON with default separators is never smaller than compact
    UTF-8, so a payload measured here fits however the channel serializes it.
    """
    return len(json.dumps(payload, ensure_ascii=True).encode("ascii"))


def fit(
    build: Callable[[Budget], T],
    size: Callable[[T], int],
    limit: int,
    ladder: Sequence[Budget] = LADDER,
) -> T:
    """The first ``build(budget)`` down the ``ladder`` whose size is within ``limit``."""
    for budget in ladder:
        payload = build(budget)
        if size(payload) <= limit:
            return payload
    raise CardTooLarge(f"smallest card is still over {limit} bytes")
