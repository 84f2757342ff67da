"""Real `tenderbot serve` and `tenderbot scheduler` processes on the test's database, talking
to a LocalSlack and an aiosmtpd server in the test process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.localslack import LocalSlack
from bot.localslack.running import LOCAL_BOT_TOKEN, LOCAL_SIGNING_SECRET
from tests.conftest import BACKOFFICE_CHANNEL, BACKOFFICE_USERS
from tests.notifications.conftest import MAIL_FROM

TENDERBOT = str(Path(sys.executable).parent / "tenderbot")
# SIGTERM: a process finishes what it holds, releases its leases and exits within this long.
STOP_SECONDS = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(
    database_url: str, schema: str | None, slack: LocalSlack, smtp_port: int
) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TENDERBOT_", "SLACK_", "SMTP_", "MAIL_"))
    }
    env.update(
        TENDERBOT_DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=LOCAL_BOT_TOKEN,
        SLACK_SIGNING_SECRET=LOCAL_SIGNING_SECRET,
        SLACK_API_URL=slack.url,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        SMTP_STARTTLS="false",
        MAIL_FROM=MAIL_FROM,
        TENDERBOT_BACKOFFICE_CHANNEL=BACKOFFICE_CHANNEL,
        TENDERBOT_BACKOFFICE_USERS=",".join(sorted(BACKOFFICE_USERS)),
        # Seconds, not the production half minute: the faults come and go within the test.
        TENDERBOT_QUEUE_RETRY_SECONDS="0.5",
        TENDERBOT_QUEUE_POLL_SECONDS="0.5",
    )
    if schema:
        env["TENDERBOT_DATABASE_SCHEMA"] = schema
    return env


@dataclass
class Fleet:
    env: dict[str, str]
    log_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    serve_ports: list[int] = field(default_factory=list)
    exits: list[int | None] = field(default_factory=list)

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{args[0]}-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [TENDERBOT, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        return process

    async def start_serve(self) -> int:
        port = free_port()
        self.start("serve", "--host", "127.0.0.1", "--port", str(port))
        await healthy(port)
        self.serve_ports.append(port)
        return port

    def start_scheduler(self) -> subprocess.Popen[bytes]:
        return self.start("scheduler")

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.log_dir.glob("*.log"))
        )

    def stop(self) -> None:
        """SIGTERM to every process still running; each has 10 s to exit (then kill -9).
        ``exits`` gets their exit codes, None for one that had to be killed."""
        terminated = [process for process in self.processes if process.poll() is None]
        for process in terminated:
            process.send_signal(signal.SIGTERM)
        for process in terminated:
            try:
                self.exits.append(process.wait(timeout=STOP_SECONDS))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                self.exits.append(None)


async def healthy(port: int, seconds: float = 60.0) -> None:
    """Wait until `serve` answers its liveness probe (start-up imports take a while)."""
    async with aiohttp.ClientSession() as http, asyncio.timeout(seconds):
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)


@asynccontextmanager
async def fleet(env: dict[str, str], log_dir: Path) -> AsyncIterator[Fleet]:
    running = Fleet(env, log_dir)
    try:
        yield running
    finally:
        running.stop()
