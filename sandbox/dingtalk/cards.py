"""Card instances of the DingTalk card platform (``/v1.0/card/instances*``), in memory.

Rules the gateway relies on and which are enforced here:

- ``cardParamMap`` values are strings (the platform's model is ``map[string]string``);
  anything else is a 400, so a gateway that forgets to JSON-encode a value fails loudly.
- ``outTrackId`` identifies a card: creating it again returns the existing card and
  only delivers it to spaces it has not reached yet (a retried createAndDeliver must
  never produce a second card).
- Updates replace the param map unless ``cardUpdateOptions.update*ByKey`` asks for a
  merge, for the shared data and per-user private data alike.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.dingtalk.models import ApiError, CardVersion, SandboxCard

SPACE_PREFIX = "dtv1.card//"
ParamMap = dict[str, str]


@dataclass
class _Record:
    out_track_id: str
    template_id: str
    callback_type: str
    params: ParamMap
    private: dict[str, ParamMap]
    spaces: list[str] = field(default_factory=list)
    holders: list[str] = field(default_factory=list)
    history: list[tuple[str, ParamMap, dict[str, ParamMap]]] = field(default_factory=list)

    def snapshot(self, source: str) -> None:
        private = {user: dict(params) for user, params in self.private.items()}
        self.history.append((source, dict(self.params), private))

    def view(self, user_id: str) -> SandboxCard:
        versions = tuple(
            CardVersion(source, dict(params), dict(private.get(user_id, {})))
            for source, params, private in self.history
        )
        return SandboxCard(
            out_track_id=self.out_track_id,
            template_id=self.template_id,
            callback_type=self.callback_type,
            params=dict(self.params),
            private_params=dict(self.private.get(user_id, {})),
            spaces=tuple(self.spaces),
            versions=versions,
        )


def param_map(value: object, where: str) -> ParamMap:
    """Validate a ``{"cardParamMap": {...}}`` wrapper and return the string map."""
    if value is None:
        return {}
    params = value.get("cardParamMap", {}) if isinstance(value, dict) else None
    if not isinstance(params, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in params.items()
    ):
        raise ApiError(400, "InvalidParameter", f"{where}.cardParamMap must map strings to strings")
    return dict(params)


def _apply(current: ParamMap, update: ParamMap, by_key: bool) -> ParamMap:
    return {**current, **update} if by_key else dict(update)


def _required(body: dict[str, Any], key: str, code: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ApiError(400, code, f"{key} is required")
    return value


def parse_spaces(open_space_id: object) -> list[tuple[str, str]]:
    """``dtv1.card//IM_ROBOT.u1;dtv1.card//IM_GROUP.cid`` → ``[(type, id), ...]``."""
    if not isinstance(open_space_id, str) or not open_space_id:
        raise ApiError(400, "param.openSpaceIdEmpty", "openSpaceId is required")
    spaces = []
    for part in open_space_id.split(";"):
        kind, _, space_id = part.removeprefix(SPACE_PREFIX).partition(".")
        if not part.startswith(SPACE_PREFIX) or not kind or not space_id:
            raise ApiError(400, "param.openSpaceIdInvalid", f"bad openSpaceId part {part!r}")
        spaces.append((kind, space_id))
    return spaces


class CardBook:
    """The card instances of one sandbox app; thread-safe, no I/O."""

    def __init__(self, robot_code: str, user_exists: Callable[[str], bool]) -> None:
        self._robot_code = robot_code
        self._user_exists = user_exists
        self._lock = threading.Lock()
        self._cards: dict[str, _Record] = {}

    def create(self, body: dict[str, Any]) -> tuple[str, bool]:
        """``POST /v1.0/card/instances``: returns ``(outTrackId, created)``."""
        out_track_id = _required(body, "outTrackId", "param.outTrackIdEmpty")
        template_id = _required(body, "cardTemplateId", "param.cardTemplateIdEmpty")
        params = param_map(body.get("cardData"), "cardData")
        private = self._private_maps(body.get("privateData"))
        with self._lock:
            if out_track_id in self._cards:
                return out_track_id, False
            callback_type = str(body.get("callbackType") or "STREAM")
            record = _Record(out_track_id, template_id, callback_type, params, private)
            record.snapshot("create")
            self._cards[out_track_id] = record
        return out_track_id, True

    def deliver(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
        """``POST /v1.0/card/instances/deliver``: results and the users newly reached."""
        out_track_id = _required(body, "outTrackId", "param.outTrackIdEmpty")
        spaces = self.check_delivery(body)
        with self._lock:
            record = self._record(out_track_id)
            return self._deliver_locked(record, spaces)

    def check_delivery(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        """Validate a delivery's spaces and deliver models without touching any card."""
        spaces = parse_spaces(body.get("openSpaceId"))
        for kind, space_id in spaces:
            self._check_space(body, kind, space_id)
        return spaces

    def update(self, body: dict[str, Any]) -> list[str]:
        """``PUT /v1.0/card/instances``: returns the users holding the card."""
        out_track_id = _required(body, "outTrackId", "param.outTrackIdEmpty")
        options = body.get("cardUpdateOptions") or {}
        params = param_map(body.get("cardData"), "cardData") if "cardData" in body else None
        private = self._private_maps(body.get("privateData"))
        with self._lock:
            record = self._record(out_track_id)
            if params is not None:
                by_key = bool(options.get("updateCardDataByKey"))
                record.params = _apply(record.params, params, by_key)
            for user_id, user_params in private.items():
                by_key = bool(options.get("updatePrivateDataByKey"))
                current = record.private.get(user_id, {})
                record.private[user_id] = _apply(current, user_params, by_key)
            record.snapshot("update")
            return list(record.holders)

    def apply_callback_response(self, out_track_id: str, user_id: str, response: object) -> None:
        """Apply a card-callback ACK response the way the DingTalk client does."""
        if not isinstance(response, dict) or not {"cardData", "userPrivateData"} & response.keys():
            return  # "{}" or a bare status: the card stays as it is
        options = response.get("cardUpdateOptions") or {}
        shared = param_map(response.get("cardData"), "cardData")
        mine = param_map(response.get("userPrivateData"), "userPrivateData")
        with self._lock:
            record = self._record(out_track_id)
            if "cardData" in response:
                by_key = bool(options.get("updateCardDataByKey"))
                record.params = _apply(record.params, shared, by_key)
            if "userPrivateData" in response:
                by_key = bool(options.get("updatePrivateDataByKey"))
                current = record.private.get(user_id, {})
                record.private[user_id] = _apply(current, mine, by_key)
            record.snapshot("callback")

    def card(self, out_track_id: str, user_id: str) -> SandboxCard:
        """The card as ``user_id`` sees it; raises ``KeyError`` if unknown."""
        with self._lock:
            return self._cards[out_track_id].view(user_id)

    def holds(self, out_track_id: str, user_id: str) -> bool:
        """Whether the card was delivered to ``user_id``'s robot chat."""
        with self._lock:
            record = self._cards.get(out_track_id)
            return record is not None and user_id in record.holders

    def cards_of(self, user_id: str) -> list[SandboxCard]:
        """Every card delivered to ``user_id``, oldest first."""
        with self._lock:
            return [r.view(user_id) for r in self._cards.values() if user_id in r.holders]

    def _record(self, out_track_id: str) -> _Record:
        record = self._cards.get(out_track_id)
        if record is None:
            raise ApiError(400, "param.cardNotExist", f"no card with outTrackId {out_track_id}")
        return record

    def _private_maps(self, value: object) -> dict[str, ParamMap]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ApiError(400, "InvalidParameter", "privateData must be an object")
        return {str(user): param_map(data, f"privateData.{user}") for user, data in value.items()}

    def _check_space(self, body: dict[str, Any], kind: str, space_id: str) -> None:
        if kind != "IM_ROBOT":
            return  # groups and other spaces are recorded but not modelled
        model = body.get("imRobotOpenDeliverModel")
        if not isinstance(model, dict) or model.get("spaceType") != "IM_ROBOT":
            raise ApiError(400, "param.openSpaceModelInvalid", "imRobotOpenDeliverModel missing")
        robot_code = model.get("robotCode")
        if robot_code is not None and robot_code != self._robot_code:
            raise ApiError(400, "param.robotCodeInvalid", f"unknown robotCode {robot_code}")
        if not self._user_exists(space_id):
            raise ApiError(400, "param.userIdNotExist", f"unknown userId {space_id}")

    def _deliver_locked(
        self, record: _Record, spaces: list[tuple[str, str]]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        results, reached = [], []
        for kind, space_id in spaces:
            space = f"{SPACE_PREFIX}{kind}.{space_id}"
            if space not in record.spaces:
                record.spaces.append(space)
                if kind == "IM_ROBOT":
                    record.holders.append(space_id)
                    reached.append(space_id)
            results.append(
                {
                    "spaceType": kind,
                    "spaceId": space_id,
                    "success": True,
                    "carrierId": uuid.uuid5(uuid.NAMESPACE_URL, space + record.out_track_id).hex,
                    "errorMsg": None,
                }
            )
        return results, reached
