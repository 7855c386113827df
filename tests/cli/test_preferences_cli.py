"""``preferences show|set`` and ``bindings set --channel email`` against a running gateway.

The gateway (with the real aiosmtpd catcher) runs on the test's loop; the CLI is a subprocess.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.embedded import Embedded, start
from sandbox.mail.platform import MailPlatform
from tests.conftest import fast_settings
from tests.gateway.helpers import run_cli
from tests.http.test_bindings_api import _token
from tests.http.test_preferences import _code, _route


@pytest.fixture
async def mail(tmp_path: Path) -> AsyncIterator[Embedded]:
    stack = await start(fast_settings(tmp_path / "data", sandbox_platforms=["mail"]))
    try:
        yield stack
    finally:
        await stack.stop()


async def _cli(stack: Embedded, *args: str, token: str = "") -> tuple[int, str, str]:
    data_dir = stack.gateway.settings.data_dir
    return await run_cli(*args, data_dir=data_dir, env={"APPROVAL_GATEWAY_ADMIN_TOKEN": token})


async def test_preferences_cli_opts_out_and_in(mail: Embedded) -> None:
    assert mail.backend is not None
    await mail.seat("email", "r-1", "Rita")
    code, out, err = await _cli(mail, "preferences", "show", "r-1")
    assert code == 0, err
    assert "channel_order\t(deployment default)" in out and "email\ton" in out

    code, out, err = await _cli(
        mail, "preferences", "set", "r-1", "--email", "off", "--order", "lark,email"
    )
    assert code == 0 and "email\toff" in out and "channel_order\tlark,email" in out, err
    out_ = await _route(mail.backend, "T-CLI-OFF")
    assert out_["state"] == "unreachable" and out_["reason"].startswith("unsubscribed")

    code, out, err = await _cli(mail, "preferences", "set", "r-1", "--email", "on", "--order", "")
    assert code == 0 and "email\ton" in out and "(deployment default)" in out, err
    back = await _route(mail.backend, "T-CLI-ON")
    assert (back["channel"], back["state"]) == ("email", "sent")

    code, _, err = await _cli(mail, "preferences", "set", "r-1", "--order", "telegram")
    assert code == 2 and "unknown" in err
    code, _, err = await _cli(mail, "preferences", "set", "r-1")
    assert code == 2 and "nothing to change" in err


async def test_bindings_set_email_mails_a_code_through_the_gateway(mail: Embedded) -> None:
    assert mail.backend is not None
    platform = mail.platform_of("email")
    assert isinstance(platform, MailPlatform)
    token, _ = await _token(mail, "admin")
    args = ("bindings", "set", "r-2", "--channel", "email", "--address", "r2@corp.example")
    code, out, err = await _cli(mail, *args, "--url", mail.gateway.url, token=token)
    assert code == 0 and "pending confirmation" in out, err
    await platform.catcher.wait_for("r2@corp.example")
    unverified = await _route(mail.backend, "T-CLI-PENDING", "r-2")
    assert unverified["state"] == "unreachable"
    confirm = {"account_id": "r-2", "code": _code(platform, "r2@corp.example")}
    assert (await mail.backend.call("POST", "/v1/me/email/confirm", confirm))[0] == 200
    verified = await _route(mail.backend, "T-CLI-VERIFIED", "r-2")
    assert (verified["channel"], verified["state"]) == ("email", "sent")


async def test_preferences_cli_sets_and_resets_a_time_zone(mail: Embedded) -> None:
    code, out, err = await _cli(mail, "preferences", "show", "r-2")
    assert code == 0 and "time_zone\t(by locale)" in out, err
    code, out, err = await _cli(mail, "preferences", "set", "r-2", "--zone", "Mars/Base")
    assert code == 2 and "time zone" in err and "Mars/Base" in err, (out, err)
    code, out, err = await _cli(mail, "preferences", "set", "r-2", "--zone", "Asia/Tokyo")
    assert code == 0 and "time_zone\tAsia/Tokyo" in out and "email\ton" in out, err
    code, out, err = await _cli(mail, "preferences", "show", "r-2")
    assert "time_zone\tAsia/Tokyo" in out, err
    code, out, err = await _cli(mail, "preferences", "set", "r-2", "--zone", "")
    assert code == 0 and "time_zone\t(by locale)" in out, err
