"""Email verification: an address is used only after its owner typed the code sent to it.

Setting an email (admin API, CLI through the API, or the console for oneself) stores the address
as *pending* with the hash of a one-time code and mails the code to that address. Until the code
comes back through ``POST /v1/me/email/confirm`` the address is not a binding, so routing treats
the account as having no email. Codes are single-use, expire, are stored hashed, and a pending
address stops accepting guesses after a few wrong ones.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.core.ports import Clock, PendingEmail, UnitOfWork, VerificationRepo
from bot.core.selfbind import code_hash
from bot.errors import ChannelError, Conflict

CODE_TTL = timedelta(hours=24)  # mail can sit unread for a while; a day is long enough
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

Mailer = Callable[[str, str, str], Awaitable[None]]  # (to, subject, text)

SUBJECT = "Confirm your approval email address / 确认审批邮件地址"
BODY = (
    "Your confirmation code for approval emails of account {account}: {code}\n"
    "Enter it in the console within 24 hours. If you did not ask for this, ignore this email.\n\n"
    "账号 {account} 审批邮件的确认码：{code}\n"
    "请在 24 小时内于控制台输入。如非本人操作，请忽略此邮件。\n"
)


class EmailVerification:
    """Starts and completes the verification of an account's email address."""

    def __init__(self, repo: VerificationRepo, clock: Clock, mailer: Mailer | None) -> None:
        self._repo = repo
        self._clock = clock
        self._mailer = mailer

    async def request(
        self,
        account_id: str,
        address: str,
        *,
        by: str,
        method: str,
        uow: UnitOfWork | None = None,
    ) -> PendingEmail:
        """Keep ``address`` pending for ``account_id`` and mail it a code (kept in ``uow``
        when given: the signed call's, so a refusal keeps nothing)."""
        repo = uow.emails if uow is not None else self._repo
        if self._mailer is None:
            raise Conflict("no email channel runs to send the confirmation through")
        code = "".join(secrets.choice(_ALPHABET) for _ in range(8))
        now = self._clock.now()
        pending = PendingEmail(
            account_id=account_id,
            address=address,
            requested_by=by,
            method=method,
            expires_at=now + CODE_TTL,
        )
        await repo.put(pending, code_hash(code), now)
        try:
            await self._mailer(address, SUBJECT, BODY.format(account=account_id, code=code))
        except ChannelError:
            await repo.drop(account_id)  # a code nobody received must not linger
            raise
        return pending

    async def confirm(
        self, account_id: str, code: str, uow: UnitOfWork | None = None
    ) -> PendingEmail | None:
        """Bind the pending address when the code is right; None for any wrong case (in
        ``uow`` when given)."""
        repo = uow.emails if uow is not None else self._repo
        return await repo.confirm(account_id, code_hash(code.strip()), self._clock.now())

    async def pending(self, account_id: str, uow: UnitOfWork | None = None) -> PendingEmail | None:
        """The account's address waiting for confirmation, if any (read in ``uow`` when given)."""
        repo = uow.emails if uow is not None else self._repo
        return await repo.pending(account_id, self._clock.now())
