"""Wire formats the Lark platform speaks: long-connection frames, event bodies, callback crypto.

Frames are the SDK's own protobuf class (``lark_oapi.ws.pb.pbbp2_pb2.Frame``), so the
sandbox cannot drift from what ``lark.ws.Client`` parses. Event bodies follow the
schema 2.0 envelope the SDK's ``EventDispatcherHandler`` routes on ``header.event_type``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from lark_oapi.ws.pb.pbbp2_pb2 import Frame

from sandbox.lark.models import SandboxUser

CONTROL = 0
DATA = 1
TENANT_KEY = "sandbox-tenant"


def client_config(ping_interval: int) -> dict[str, int]:
    """The ClientConfig the SDK applies from the endpoint answer and from pongs.

    Nonce 0 and interval 1 s make the SDK reconnect at once instead of after up to
    30 s of jitter plus 120 s between attempts.
    """
    return {
        "ReconnectCount": -1,
        "ReconnectInterval": 1,
        "ReconnectNonce": 0,
        "PingInterval": ping_interval,
    }


def headers_of(frame: Any) -> dict[str, str]:
    """A frame's repeated headers as a dict."""
    return {h.key: h.value for h in frame.headers}


def parse_frame(data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Decode one binary WS message into (method, headers, payload)."""
    frame = Frame()
    frame.ParseFromString(data)
    return int(frame.method), headers_of(frame), bytes(frame.payload)


def _frame(service: int, method: int, headers: dict[str, str], payload: bytes) -> bytes:
    frame = Frame()
    frame.SeqID = 0
    frame.LogID = 0
    frame.service = service
    frame.method = method
    for key, value in headers.items():
        header = frame.headers.add()
        header.key = key
        header.value = value
    if payload:
        frame.payload = payload
    out: bytes = frame.SerializeToString()
    return out


def pong_frame(service: int, ping_interval: int) -> bytes:
    """Answer to a client ping; the payload lets the platform reconfigure the client live."""
    payload = json.dumps(client_config(ping_interval)).encode()
    return _frame(service, CONTROL, {"type": "pong"}, payload)


def split(payload: bytes, parts: int) -> list[bytes]:
    """Cut a payload into ``parts`` non-empty chunks.

    The SDK treats an empty chunk as "not arrived yet", so an empty part would make it
    wait for the whole message forever.
    """
    parts = max(1, min(parts, len(payload)))
    size = -(-len(payload) // parts)
    return [payload[i : i + size] for i in range(0, len(payload), size)]


def data_frames(
    service: int, message_id: str, trace_id: str, payload: bytes, parts: int
) -> list[bytes]:
    """The DATA frames that carry one event, with the headers the SDK requires."""
    chunks = split(payload, parts)
    return [
        _frame(
            service,
            DATA,
            {
                "type": "event",  # card callbacks too: the SDK drops type=card frames
                "message_id": message_id,
                "sum": str(len(chunks)),
                "seq": str(seq),
                "trace_id": trace_id,
            },
            chunk,
        )
        for seq, chunk in enumerate(chunks)
    ]


def decode_ack(payload: bytes) -> dict[str, Any]:
    """An ACK payload ``{"code":200[,"data":b64]}`` with ``data`` decoded into an object."""
    ack: dict[str, Any] = json.loads(payload)
    data = ack.get("data")
    ack["data"] = json.loads(base64.b64decode(data)) if data else {}
    return ack


def _header(event_type: str, app_id: str, verification_token: str, now: float) -> dict[str, Any]:
    return {
        "event_id": secrets.token_hex(16),
        "token": verification_token,
        "create_time": str(int(now * 1_000_000)),
        "event_type": event_type,
        "tenant_key": TENANT_KEY,
        "app_id": app_id,
    }


def _ids(user: SandboxUser) -> dict[str, str]:
    return {"open_id": user.open_id, "user_id": user.user_id, "union_id": user.union_id}


def card_action_event(
    *,
    app_id: str,
    user: SandboxUser,
    message_id: str,
    token: str,
    value: dict[str, Any],
    form_value: dict[str, Any] | None,
    verification_token: str,
    now: float,
    picked: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A ``card.action.trigger`` (schema 2.0) callback body for a click by ``user``; with
    ``picked`` (the picker's name, the person's open_id) a pick on a ``select_person``, which
    calls back with ``action.tag`` "select_person" and the open_id in ``action.option``
    (select_person doc, card JSON 2.0; the SDK's CallBackAction carries both)."""
    action: dict[str, Any] = {"value": value, "tag": "button"}
    if form_value is not None:
        action.update(name="submit", form_value=form_value)
    if picked is not None:
        name, open_id = picked
        action.update(tag="select_person", option=open_id, **({"name": name} if name else {}))
    return {
        "schema": "2.0",
        "header": _header("card.action.trigger", app_id, verification_token, now),
        "event": {
            "operator": {"tenant_key": TENANT_KEY, **_ids(user)},
            "token": token,
            "action": action,
            "host": "im_message",
            "context": {"open_message_id": message_id, "open_chat_id": user.chat_id},
        },
    }


def message_receive_event(
    *, app_id: str, user: SandboxUser, message_id: str, text: str, now: float
) -> dict[str, Any]:
    """An ``im.message.receive_v1`` body: ``user`` wrote ``text`` in the p2p chat."""
    millis = str(int(now * 1000))
    return {
        "schema": "2.0",
        "header": _header("im.message.receive_v1", app_id, "", now),
        "event": {
            "sender": {
                "sender_id": _ids(user),
                "sender_type": "user",
                "tenant_key": TENANT_KEY,
            },
            "message": {
                "message_id": message_id,
                "create_time": millis,
                "update_time": millis,
                "chat_id": user.chat_id,
                "chat_type": "p2p",
                "message_type": "text",
                "content": json.dumps({"text": text}, ensure_ascii=False),
                "mentions": [],
            },
        },
    }


def encrypt(plaintext: bytes, encrypt_key: str) -> str:
    """AES-256-CBC as the platform encrypts callbacks: b64(iv + ct), key = sha256(encrypt_key)."""
    key = hashlib.sha256(encrypt_key.encode()).digest()
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()


def sign(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """``X-Lark-Signature``: hex sha256 over timestamp + nonce + encrypt_key + raw body."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()
