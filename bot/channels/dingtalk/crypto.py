"""DingTalk HTTP-callback cryptography: event-subscription envelopes and robot signatures.

Event subscriptions (``DingTalkCrypto``): ``signature = sha1(sorted(token, timestamp, nonce,
encrypt))``; ``encrypt`` is AES-256-CBC (key = base64(encodingAESKey + "="), iv = key[:16]) over
``random16 || uint32_be(len(msg)) || msg || ownerKey`` padded PKCS#7 to 32-byte blocks. Every
callback is answered with ``encrypt("success")`` signed the same way.

Everything works on bytes: the official Python sample measures lengths in characters and breaks
on non-ASCII text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.errors import VerificationError

BLOCK = 32  # DingTalk pads to 32 bytes, not AES's 16
RANDOM_PREFIX = 16
AES_KEY_LENGTH = 43


def sign_event(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """The ``signature`` / ``msg_signature`` of an event envelope."""
    joined = "".join(sorted([token, timestamp, nonce, encrypt]))
    return hashlib.sha1(joined.encode()).hexdigest()  # SHA-1 is the platform's choice


def robot_sign(app_secret: str, timestamp: str) -> str:
    """The ``sign`` header of an HTTP-mode robot message: base64(HMAC-SHA256)."""
    digest = hmac.new(
        app_secret.encode(), f"{timestamp}\n{app_secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def _pad(data: bytes) -> bytes:
    size = BLOCK - len(data) % BLOCK
    return data + bytes([size]) * size


def _unpad(data: bytes) -> bytes:
    size = data[-1] if data else 0
    if not 1 <= size <= BLOCK or data[-size:] != bytes([size]) * size:
        raise VerificationError("callback padding is corrupt")
    return data[:-size]


class EventCrypto:
    """Decrypts, verifies and answers one app's event-subscription callbacks."""

    def __init__(self, token: str, aes_key: str, owner_key: str) -> None:
        if len(aes_key) != AES_KEY_LENGTH:
            raise ValueError("the callback AES key must be 43 characters")
        self._token = token
        self._key = base64.b64decode(aes_key + "=")
        self._owner = owner_key.encode()

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        """The signature the platform computes for this envelope."""
        return sign_event(self._token, timestamp, nonce, encrypt)

    def decrypt(self, signature: str, timestamp: str, nonce: str, encrypt: str) -> str:
        """The plaintext of a verified envelope; VerificationError when anything is off."""
        expected = self.signature(timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected, signature):
            raise VerificationError("callback signature does not match")
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise VerificationError("callback body is not base64") from exc
        if not raw or len(raw) % 16:
            raise VerificationError("callback body is not whole AES blocks")
        plain = _unpad(self._cipher().decryptor().update(raw))
        if len(plain) < RANDOM_PREFIX + 4:
            raise VerificationError("callback body is too short")
        (length,) = struct.unpack(">I", plain[RANDOM_PREFIX : RANDOM_PREFIX + 4])
        message = plain[RANDOM_PREFIX + 4 : RANDOM_PREFIX + 4 + length]
        owner = plain[RANDOM_PREFIX + 4 + length :]
        if len(message) != length or not hmac.compare_digest(owner, self._owner):
            raise VerificationError("callback was not meant for this app")
        try:
            return message.decode()
        except UnicodeDecodeError as exc:
            raise VerificationError("callback body is not UTF-8") from exc

    def encrypt(self, message: str) -> str:
        """``message`` wrapped for this app (the layout :meth:`decrypt` reads)."""
        body = message.encode()
        plain = os.urandom(RANDOM_PREFIX) + struct.pack(">I", len(body)) + body + self._owner
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(_pad(plain)) + encryptor.finalize()).decode()

    def reply(self, message: str, timestamp: str) -> dict[str, str]:
        """The signed, encrypted answer to a callback (``message`` is "success")."""
        nonce = secrets.token_hex(8)
        encrypt = self.encrypt(message)
        return {
            "msg_signature": self.signature(timestamp, nonce, encrypt),
            "timeStamp": timestamp,
            "nonce": nonce,
            "encrypt": encrypt,
        }

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))
