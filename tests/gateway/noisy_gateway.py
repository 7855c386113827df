"""A gateway run whose SDKs log errors, for the test that stderr carries only JSON lines.

Run as ``python -m tests.gateway.noisy_gateway DATA_DIR``. It sets logging up as ``serve`` does,
starts the embedded gateway with the Lark and DingTalk sandboxes, makes lark-oapi log an error
(the platform drops the long connection), makes dingtalk_stream log a warning (a SYSTEM ping,
which the SDK calls an unknown topic), lets a thread die of an exception, stops and prints DONE.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

from bot import logs
from sandbox.dingtalk.platform import DingTalkPlatform
from sandbox.embedded import start
from sandbox.lark.platform import LarkPlatform
from tests.conftest import fast_settings


def _die() -> None:
    raise RuntimeError("a thread ended badly")


async def main(data_dir: Path) -> None:
    logs.setup("INFO")
    settings = fast_settings(data_dir, sandbox_platforms=["lark", "dingtalk"])
    embedded = await start(settings)
    try:
        lark, dingtalk = embedded.platform_of("lark"), embedded.platform_of("dingtalk")
        assert isinstance(lark, LarkPlatform) and isinstance(dingtalk, DingTalkPlatform)
        app, stream = lark.app(), dingtalk.sandboxes["dingtalk"]
        await app.wait_connected()
        await stream.wait_connected()
        await app.drop_connection()  # lark-oapi: "receive message loop exit" at ERROR
        await app.wait_connected()  # the SDK reconnected
        await stream.ping()  # dingtalk_stream: "unknown message topic, topic=ping" at WARNING
        thread = threading.Thread(target=_die, name="noisy")
        thread.start()
        thread.join()
    finally:
        await embedded.stop()
    print("DONE", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
