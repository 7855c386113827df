"""Self-service binding: an approver links their own chat identity with a one-time code.

The console (the ticket backend) asks for a code on the user's behalf; the user sends
``bind CODE`` to the bot in DingTalk or Lark; the chat identity the message came from is bound to
the account the code was issued for. Codes are single-use, expire in ten minutes and are stored
hashed. A wrong code gets the same answer whether or not any account exists, and a chat identity
already linked to another account is never silently moved.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from bot.core.models import Entity
from bot.core.ports import Clock, IdentityNotice, InboundMessage, Store, UnitOfWork, within
from bot.core.service import TELL_IDENTITY

CODE_TTL = timedelta(minutes=10)
# No 0/O or 1/I/L: codes are read off a screen and typed on a phone.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_COMMAND = re.compile(r"^\s*(?:/?bind|绑定)\s+([A-Za-z0-9-]{4,20})\s*$", re.IGNORECASE)

REPLIES = {
    "bound": "Linked: approval cards for account {account} will come to this chat. / 绑定成功：账号 {account} 的审批卡片将发到这里。",
    "invalid": "That code is not valid or has expired; get a new one in the console. / 绑定码无效或已过期，请在控制台重新获取。",
    "taken": "This chat account is already linked to another account; ask an administrator. / 该聊天账号已绑定其他账号，请联系管理员。",
    "moved": "This chat account no longer receives approval cards for account {account}: it was linked to another {channel} account. If that was not you, tell an administrator. / 该聊天账号已不再接收账号 {account} 的审批卡片：它已绑定到另一个{channel}账号。如非本人操作，请联系管理员。",
    "help": "To receive approval cards here, send: bind CODE (the code is shown in the console). / 发送“绑定 绑定码”即可在此接收审批卡片（绑定码见控制台）。",
}


class BindingCode(Entity):
    """A freshly issued code (the only time it exists in clear)."""

    code: str
    account_id: str
    expires_at: datetime

    @property
    def command(self) -> str:
        """What the user sends to the bot."""
        return f"bind {self.code}"


def code_hash(code: str) -> str:
    """What is stored: codes are compared case- and dash-insensitively."""
    return hashlib.sha256(code.replace("-", "").upper().encode()).hexdigest()


class SelfBinding:
    """Issues binding codes and answers ``bind CODE`` chat messages."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def issue(self, account_id: str, uow: UnitOfWork | None = None) -> BindingCode:
        """A new single-use code for ``account_id`` (kept in ``uow`` when given)."""
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(8))
        code = f"{raw[:4]}-{raw[4:]}"
        now = self._clock.now()
        async with within(self._store, uow) as unit:
            await unit.identities.put_code(code_hash(code), account_id, now, now + CODE_TTL)
        return BindingCode(code=code, account_id=account_id, expires_at=now + CODE_TTL)

    async def answer(self, message: InboundMessage) -> str:
        """The bot's reply to a chat message (binding it when it carries a valid code)."""
        match = _COMMAND.match(message.text)
        if match is None:
            return REPLIES["help"]
        now = self._clock.now()
        async with self._store.unit() as uow:
            owner = await uow.identities.binding_owner(message.channel, message.sender)
            account = await uow.identities.take_code(code_hash(match.group(1)), now)
            if account is None:
                return REPLIES["invalid"]
            if owner is not None and owner != account:
                return REPLIES["taken"]
            before = await uow.identities.binding_address(account, message.channel)
            await uow.identities.set_binding(
                account, message.channel, message.sender, account, "chat-code", now
            )
            await _audit(uow, message, account, before, now)
        return REPLIES["bound"].format(account=account)


async def _audit(
    uow: UnitOfWork, message: InboundMessage, account: str, before: str | None, at: datetime
) -> None:
    # Both identities are recorded when a code moves the account: the old one lost its cards.
    moved = before is not None and before != message.sender
    action = "binding.moved" if moved else "binding.self"
    detail = f"{message.channel}: {before} -> {message.sender}" if moved else message.channel
    await uow.ledger.audit(at, account, action, account, detail, message.source)
    if moved and before is not None:
        # The old identity is told in chat, through the outbox so the message survives a crash.
        text = REPLIES["moved"].format(account=account, channel=message.channel)
        notice = IdentityNotice(channel=message.channel, address=before, text=text)
        await uow.outbox.enqueue(TELL_IDENTITY, account, at, notice.model_dump_json())
