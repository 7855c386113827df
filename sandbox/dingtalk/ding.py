"""DingTalk DING (urgency): ``POST /v1.0/robot/ding/send``.

Follows open.dingtalk.com/document/development/robot-sends-nail-message (notes: dingtalk.md
"DING"): body ``{"robotCode", "remindType", "receiverUserIdList", "content"}``, answer
``{"openDingId"}``. remindType 1 is in-app (at most 200 receivers), 2 SMS and 3 phone (at most
20, and only on the paid 专业版/专属版 plans). Refusals are v1.0 ``{"code", "message"}`` answers
with HTTP 400: ``invalidParameter.userIds.empty`` / ``.overMax`` and ``.robotCode.notExsit`` as
the robot APIs' error table names them (robot-sends-a-group-message), and
``ding.serverquota.insufficient`` ("权益不足") for SMS/phone without the plan, the code
DingTalk's DING reminders answer when the organisation lacks the entitlement. The DING page's
own table was not at hand to check these codes against.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any

from sandbox.dingtalk.models import ApiError
from sandbox.dingtalk.state import SandboxState

IN_APP, SMS, PHONE = 1, 2, 3
MOST = {IN_APP: 200, SMS: 20, PHONE: 20}


@dataclass(frozen=True)
class Ding:
    """One DING sent: its id, kind (remindType) and receivers (userIds)."""

    open_ding_id: str
    remind_type: int
    receivers: tuple[str, ...]
    content: str


class DingSend:
    """The DING route of one sandbox app; ``paid_plan`` unlocks SMS and phone."""

    def __init__(self, state: SandboxState, robot_code: str) -> None:
        self._state = state
        self._robot_code = robot_code
        self.paid_plan = False
        self.sent: list[Ding] = []
        self._lock = threading.Lock()

    def send(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1.0/robot/ding/send`` (token and QPS checked by the caller's wrapper)."""
        if body.get("robotCode") != self._robot_code:
            raise ApiError(400, "invalidParameter.robotCode.notExsit", "机器人不存在")
        kind, receivers, content = self._read(body)
        if kind in (SMS, PHONE) and not self.paid_plan:
            raise ApiError(400, "ding.serverquota.insufficient", "ding server quota insufficient")
        ding = Ding("ding" + secrets.token_hex(12), kind, tuple(receivers), content)
        with self._lock:
            self.sent.append(ding)
        return {"openDingId": ding.open_ding_id}

    def _read(self, body: dict[str, Any]) -> tuple[int, list[str], str]:
        kind = body.get("remindType")
        if kind not in MOST:
            raise ApiError(400, "invalidParameter.param.invalid", "remindType must be 1, 2 or 3")
        receivers = body.get("receiverUserIdList")
        if not isinstance(receivers, list) or not receivers:
            raise ApiError(400, "invalidParameter.userIds.empty", "receiverUserIdList is empty")
        if len(receivers) > MOST[kind]:
            raise ApiError(
                400,
                "invalidParameter.userIds.overMax",
                f"at most {MOST[kind]} receivers for remindType {kind}",
            )
        unknown = [r for r in receivers if self._state.user(str(r)) is None]
        if unknown:
            raise ApiError(400, "invalidParameter.param.invalid", f"unknown userId {unknown[0]}")
        content = body.get("content")
        if not isinstance(content, str) or not content:
            raise ApiError(400, "invalidParameter.param.invalid", "content is required")
        return kind, [str(r) for r in receivers], content
