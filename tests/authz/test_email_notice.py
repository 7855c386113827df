"""The email channel's consent notice and next steps say what email does, not what chat does.

Email only sends (SMTP): no access tokens, no clicks, no bind messages, and its approvers are
bound by a confirmed address, never by ``bind CODE`` in a chat.
"""

from __future__ import annotations

from pathlib import Path

from sandbox.mail.catcher import MailCatcher
from tests.authz.test_credential_lifecycle import running, smtp
from tests.conftest import fast_settings
from tests.gateway.admin import authorize, call, token


async def test_the_email_notice_and_next_steps_speak_of_email(tmp_path: Path) -> None:
    catcher = MailCatcher()
    catcher.start()
    try:
        async with running(fast_settings(tmp_path / "d")) as (gateway, _):
            admin = await token(gateway, "admin")
            status, notice = await call(gateway, "GET", "/v1/channels/email/authorization", admin)
            assert status == 200
            uses = notice["uses"]
            assert "SMTP" in uses and "confirmation code" in uses and "console" in uses
            for chat_only in ("access token", "clicks", "bind message"):
                assert chat_only not in uses, chat_only
            status, answer = await authorize(gateway, admin, "email", credentials=smtp(catcher))
            assert status == 200, answer
            steps = " ".join(answer["next_steps"])
            assert "bind CODE" not in steps and "in chat" not in steps and "stream" not in steps
            assert "channel 'email'" in steps and "confirmation code" in steps

            _, chat = await call(gateway, "GET", "/v1/channels/memory/authorization", admin)
            assert "clicks and bind messages" in chat["uses"]  # chat keeps its own wording
    finally:
        catcher.stop()
