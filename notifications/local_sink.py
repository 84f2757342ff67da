"""Without an SMTP server (demo, development) e-mails become .eml files to read or open."""

from __future__ import annotations

import asyncio
from pathlib import Path

from notifications.contract import Delivery, TransportError
from notifications.email_message import UnsafeHeader, build_email
from notifications.replies import ReplyAddresses
from store.models import QueueKind
from store.types import utcnow

DEFAULT_DIRECTORY = Path("outbox")


def eml_name(delivery: Delivery) -> str:
    # The Message-ID is unique and fixed, so a resend overwrites instead of duplicating.
    token = delivery.message_id.strip("<>").split("@", 1)[0]
    return f"{delivery.row_id:06d}-{delivery.template}-{token[:12]}.eml"


class LocalSinkNotifier:
    channel: str = QueueKind.EMAIL

    def __init__(
        self,
        directory: Path = DEFAULT_DIRECTORY,
        *,
        mail_from: str,
        replies: ReplyAddresses | None = None,
    ) -> None:
        self.directory = directory
        self.mail_from = mail_from
        self.replies = replies
        self.written: list[Path] = []

    async def notify(self, delivery: Delivery) -> None:
        try:
            message = build_email(
                delivery.rendered,
                sender=self.mail_from,
                recipient=delivery.recipient,
                message_id=delivery.message_id,
                date=utcnow(),
                reply_to=delivery.reply_to,
            )
        except UnsafeHeader as error:
            raise TransportError(str(error), permanent=True) from error
        path = self.directory / eml_name(delivery)
        try:
            await asyncio.to_thread(self._write, path, message.as_bytes())
        except OSError as error:
            raise TransportError(f"cannot write {path}: {error}") from error
        self.written.append(path)

    def _write(self, path: Path, content: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    async def close(self) -> None:
        return None
