"""`tenderbot console`: be a Slack user at a prompt, against a local Slack and the real app.

Type what you would type in Slack: ``/ausschreibung liste``, ``/angebote AS-2026-0001``, or
plain text (a message into the current thread: ``thread AS-2026-0001`` picks it). ``:as
bernd`` switches the person, ``:klick Auswählen`` presses the newest button with that label,
``:hilfe`` lists this, ``:ende`` (or end of input) quits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import personas
from bot.localslack import (
    BOT_ID,
    BOT_USER_ID,
    LocalSlack,
    SignedSender,
    SlackResponse,
    dm_channel_for,
)
from bot.localslack.render import mrkdwn
from bot.localslack.running import local_settings, running_app
from bot.localslack.transcript import Transcript
from bot.queue_worker import wait_for_slack_deliveries
from bot.settings import Settings
from store.brokers import list_brokers
from store.models import Tender, ThreadLink

PERSONAS = personas.BY_FIRST_NAME
DEFAULT_BACKOFFICE = personas.BACKOFFICE
HELP_DE = """Eingaben:
  /befehl text          Slash-Befehl, z. B. /ausschreibung liste oder /angebote AS-2026-0001
  thread AS-2026-0001   in den Thread dieser Ausschreibung wechseln (thread ohne Nummer: verlassen)
  beliebiger Text       Nachricht in den aktuellen Thread (sonst in DM bzw. #backoffice)
  :as bernd             als andere Person weiter (anna, carla, bernd, beate oder U…-Kennung)
  :klick Auswählen      den neuesten Knopf mit dieser Beschriftung drücken
  :hilfe                diese Hilfe
  :ende                 beenden"""


Output = Callable[[str], None]


class ConsoleInputError(Exception):
    """Something typed at the prompt that cannot be done; the message is German."""


def resolve_user(name: str) -> str:
    key = name.strip().lower()
    if key in PERSONAS:
        return PERSONAS[key]
    if name.strip().upper().startswith(("U", "W")) and name.strip().isalnum():
        return name.strip().upper()
    raise ConsoleInputError(
        f"Unbekannte Person „{name}“. Bekannt: {', '.join(PERSONAS)} oder eine Slack-ID wie U0ANNA."
    )


@dataclass
class Console:
    slack: LocalSlack
    sender: SignedSender
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    transcript: Transcript
    out: Output
    user: str
    thread: tuple[str, str] | None = None
    thread_reference: str | None = None

    @property
    def is_backoffice(self) -> bool:
        return self.user in self.settings.backoffice_users

    @property
    def home_channel(self) -> str:
        """Where this person types when not in a thread."""
        return self.settings.backoffice_channel if self.is_backoffice else dm_channel_for(self.user)

    def prompt(self) -> str:
        where = f" [{self.thread_reference}]" if self.thread_reference else ""
        return f"{self.transcript.name(self.user)}{where}> "

    async def handle(self, line: str) -> bool:
        """Act on one input line; False when the console should end."""
        text = line.strip()
        if not text:
            return True
        if text in (":ende", ":quit", ":exit"):
            return False
        if text in (":hilfe", ":help", "?"):
            self.out(HELP_DE)
        elif text.startswith(":as "):
            self.user = resolve_user(text.removeprefix(":as "))
            self.thread = self.thread_reference = None
            self.out(f"Sie sind jetzt {self.transcript.name(self.user)} ({self.user}).")
        elif text.startswith(":klick "):
            await self._click(text.removeprefix(":klick ").strip())
        elif text == "thread" or text.startswith("thread "):
            await self._switch_thread(text.removeprefix("thread").strip())
        elif text.startswith("/"):
            command, _, rest = text.partition(" ")
            await self._show(
                await self.sender.send_command(
                    self.user, command, rest.strip(), channel_id=self.home_channel
                )
            )
        else:
            channel, thread_ts = self.thread or (self.home_channel, None)
            await self._show(
                await self.sender.send_message(self.user, channel, text, thread_ts=thread_ts)
            )
        return True

    async def _switch_thread(self, reference: str) -> None:
        if not reference:
            self.thread = self.thread_reference = None
            self.out("Thread verlassen.")
            return
        side = "backoffice" if self.is_backoffice else "broker"
        async with self.sessions() as session:
            link = await session.scalar(
                select(ThreadLink)
                .join(Tender, Tender.id == ThreadLink.tender_id)
                .where(Tender.reference == reference.upper(), ThreadLink.side == side)
            )
        if link is None:
            raise ConsoleInputError(
                f"Für {reference} gibt es keinen Thread auf der Seite „{side}“ "
                "(Nummer prüfen; der Thread entsteht mit der Ausschreibungskarte)."
            )
        self.thread = (link.channel, link.ts)
        self.thread_reference = reference.upper()
        self.out(f"Im Thread von {self.thread_reference} ({self.transcript.where(link.channel)}).")

    async def _click(self, label: str) -> None:
        found = self._find_button(label)
        if found is None:
            raise ConsoleInputError(f"Keinen Knopf „{label}“ gefunden.")
        button, message, channel = found
        await self._show(
            await self.sender.send_button(
                self.user,
                str(button.get("action_id")),
                str(button.get("value", "")),
                channel=channel,
                message=message,
            )
        )

    def _find_button(self, label: str) -> tuple[dict[str, Any], dict[str, Any], str] | None:
        visible: list[tuple[dict[str, Any], str]] = [
            (message, channel)
            for channel in (self.home_channel, dm_channel_for(self.user))
            for message in self.slack.messages(channel)
        ]
        visible += [(r, r["channel"]) for r in self.slack.responses(self.user)]
        visible += [(e, e["channel"]) for e in self.slack.ephemerals(self.user)]
        visible.sort(key=lambda pair: str(pair[0].get("ts", "")))
        for message, channel in reversed(visible):
            for block in message.get("blocks") or []:
                elements = list(block.get("elements", []))
                if isinstance(block.get("accessory"), dict):
                    elements.append(block["accessory"])
                for element in elements:
                    text = element.get("text") if isinstance(element, dict) else None
                    if (
                        element.get("type") == "button"
                        and isinstance(text, dict)
                        and mrkdwn(str(text.get("text", ""))).lower() == label.lower()
                    ):
                        return element, message, channel
        return None

    async def _show(self, response: SlackResponse) -> None:
        if response.status != 200:
            self.out(f"  (HTTP {response.status})")
        elif response.text and not response.text.startswith("{"):
            self.out(f"  {response.text}")
        # The app answered after its work (``answer_after_work``): only rows it left to
        # a worker can still be on their way.
        await wait_for_slack_deliveries(self.sessions)
        for heading, text in self.transcript.new_entries(self.user):
            self.out(f"┄ {heading}")
            for line in text.splitlines() or [""]:
                self.out(f"  {line}")


async def remember_cards(sessions: async_sessionmaker[AsyncSession], slack: LocalSlack) -> None:
    """A fresh local Slack forgets earlier runs: put back the tender cards the store knows,
    so their threads and card updates keep working."""
    async with sessions() as session:
        rows = await session.execute(
            select(ThreadLink.channel, ThreadLink.ts, Tender.reference)
            .join(Tender, Tender.id == ThreadLink.tender_id)
            .order_by(ThreadLink.ts)
        )
        for channel, ts, reference in rows:
            slack.state.channels.setdefault(channel, []).append(
                {
                    "type": "message",
                    "ts": ts,
                    "text": f"Karte {reference} (aus einem früheren Lauf)",
                    "user": BOT_USER_ID,
                    "bot_id": BOT_ID,
                }
            )


async def known_names(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    names = dict(personas.NAMES)
    async with sessions() as session:
        for broker in await list_brokers(session):
            names[broker.slack_user_id] = broker.name
    return names


async def run_console(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    user: str,
    stdin: TextIO,
    out: Output = print,
    prompt: Output | None = None,
) -> None:
    """Read lines from ``stdin`` until it ends or ``:ende``; each acts as the current user.

    With ``prompt`` (interactive use) the prompt is shown before reading; without it each
    line is echoed after the prompt, so a scripted session reads like a typed one.
    """
    async with LocalSlack() as slack:
        names = await known_names(sessions)
        for user_id, name in names.items():
            slack.add_user(user_id, name)
        await remember_cards(sessions, slack)
        local = local_settings(
            slack,
            settings.database_url,
            backoffice_users=settings.backoffice_users or DEFAULT_BACKOFFICE,
            backoffice_channel=settings.backoffice_channel,
        )
        async with running_app(local, sessions, slack, answer_after_work=True) as running:
            console = Console(
                slack=slack,
                sender=running.sender,
                sessions=sessions,
                settings=local,
                transcript=Transcript(slack, names, local.backoffice_channel),
                out=out,
                user=resolve_user(user),
            )
            out("tenderbot-Konsole (lokales Slack). :hilfe zeigt die Eingaben.")
            while True:
                if prompt is not None:
                    prompt(console.prompt())
                line = await asyncio.to_thread(stdin.readline)
                if not line:
                    break
                if prompt is None:
                    out(f"{console.prompt()}{line.rstrip()}")
                try:
                    if not await console.handle(line):
                        break
                except ConsoleInputError as error:
                    out(f"  {error}")
