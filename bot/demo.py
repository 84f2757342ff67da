"""`tenderbot demo`: one whole tender, played through signed requests against a local Slack.

Nothing is mocked: a fresh SQLite database, the real app over HTTP, the local Slack Web API.
The demo is a list of small steps (``STEPS``); each takes the ``Demo`` and acts as one
person. Append a step function to extend the story.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
from slack_bolt.async_app import AsyncApp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import personas
from bot.localslack import LocalSlack, SignedSender, SlackResponse, dm_channel_for
from bot.localslack.running import local_settings, running_app
from bot.localslack.transcript import Transcript
from bot.mail_in import running_mail_in
from bot.notifiers import build_notifiers
from bot.personas import ANNA, BERND
from bot.queue_worker import wait_for_slack_deliveries
from bot.scheduler import run_expiry_reminders
from bot.settings import Settings
from handlers.platform_api import PLATFORM_PATH, sign
from notifications import LocalSinkNotifier, drain_outbox
from pricing.formats import format_cents, format_date
from store.brokers import BrokerData, add_broker
from store.db import make_engine, make_sessionmaker, transaction
from store.distribution import distribute_budget, due_year, queue_distribution_notices
from store.fiv import import_fiv
from store.migrate import upgrade
from store.models import Tender, ThreadLink

DEMO_DATABASE = Path("tenderbot-demo.db")
DEMO_MAILS = Path("tenderbot-demo-mails")
BACKOFFICE_CHANNEL = "C0BACKOFFICE"
PLATFORM_SECRET = "demo-platform-secret"
CONSULTATION = "B-2026-0815"

# Answer by e-mail: the demo's notices carry reply addresses at this (never resolvable) domain,
# and Anna's answer goes straight to the in-process mail-in server.
DEMO_REPLY_DOMAIN = "antwort.tenderbot.example"
DEMO_REPLY_SECRET = "demo-reply-secret-not-for-production"

# The two people the demo plays, with the names the console and the tests give them too.
NAMES = {user: personas.NAMES[user] for user in (ANNA, BERND)}

Output = Callable[[str], None]


@dataclass
class Demo:
    """What a step needs: who is who, how to act as someone, and what people saw."""

    slack: LocalSlack
    sender: SignedSender
    app: AsyncApp
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    transcript: Transcript
    out: Output
    mails: Path = DEMO_MAILS
    # Values steps hand on to later steps, e.g. "reference" → "AS-2026-0001".
    values: dict[str, str] = field(default_factory=dict)
    # POST /platform/events of the running app, signed with settings.platform_secret.
    platform_url: str = ""
    events: int = 0

    def name(self, user: str) -> str:
        return NAMES.get(user, user)

    def today(self) -> date:
        return datetime.now(self.settings.zone).date()

    def say(self, text: str) -> None:
        self.out("")
        self.out(f"▶ {text}")

    async def command(
        self, user: str, command: str, text: str = "", *, channel: str | None = None
    ) -> SlackResponse:
        self.out(f"  {self.name(user)} tippt: {command} {text}".rstrip())
        response = await self.sender.send_command(user, command, text, channel_id=channel)
        await self.show(user, response)
        return response

    async def button(
        self, user: str, action_id: str, value: str, *, message: dict[str, Any], channel: str
    ) -> SlackResponse:
        self.out(f"  {self.name(user)} klickt auf {action_id} ({value})")
        response = await self.sender.send_button(
            user, action_id, value, channel=channel, message=message
        )
        await self.show(user, response)
        return response

    async def message(
        self, user: str, channel: str, text: str, *, thread_ts: str | None = None
    ) -> SlackResponse:
        self.out(f"  {self.name(user)} schreibt: {text}")
        response = await self.sender.send_message(user, channel, text, thread_ts=thread_ts)
        await self.show(user, response)
        return response

    async def show(self, actor: str, response: SlackResponse | None = None) -> None:
        """Print the immediate answer, then everything people see once the app is done."""
        if response is not None and response.status != 200:
            self.out(f"    (HTTP {response.status})")
        ack = response.json() if response is not None and _is_json(response.text) else None
        if isinstance(ack, dict) and ack.get("response_action") == "errors":
            for field_name, problem in ack.get("errors", {}).items():
                self.out(f"    Hinweis im Dialog ({field_name}): {problem}")
        elif response is not None and response.text and not isinstance(ack, dict):
            self.out(f"    sofort, nur für {self.name(actor)}: {response.text}")
        # The app answered after its work (``answer_after_work``): only rows it left to
        # a worker can still be on their way.
        await wait_for_slack_deliveries(self.sessions)
        for heading, text in self.transcript.new_entries(actor):
            self.out(f"  ┄ {heading}")
            for line in text.splitlines() or [""]:
                self.out(f"    {line}")

    async def deliver_outbox(self) -> None:
        """Send what the services queued (N1, N2 …): Slack DMs and e-mails as .eml files."""
        notifiers = build_notifiers(self.settings, self.app.client, eml_directory=self.mails)
        await drain_outbox(self.sessions, notifiers)
        await self.show("")
        for notifier in notifiers:
            if isinstance(notifier, LocalSinkNotifier):
                for path in notifier.written:
                    self._show_mail(path)

    def _show_mail(self, path: Path) -> None:
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        self.out(f"  ┄ E-Mail an {mail['To']}" + (f" (CC {mail['Cc']})" if mail["Cc"] else ""))
        self.out(f"    Betreff: {mail['Subject']}")
        if mail["Reply-To"]:
            self.out(f"    Antwort an: {mail['Reply-To']}")
        body = mail.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        for line in [line for line in text.splitlines() if line.strip()][:4]:
            self.out(f"    {line}")
        self.out(f"    (Datei: {path})")

    async def platform_event(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        """Send one signed event as the broker platform would, and print its answer."""
        self.events += 1
        body = json.dumps(
            {
                "id": f"demo-{self.events}",
                "type": event_type,
                "occurred_at": datetime.now(self.settings.zone).isoformat(),
                "data": data,
            }
        ).encode()
        secret = self.settings.platform_secret
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Tenderbot-Timestamp": stamp,
            "X-Tenderbot-Signature": sign(secret.get_secret_value() if secret else "", stamp, body),
        }
        shown = json.dumps(data, ensure_ascii=False)
        self.out(f"  Plattform → POST /platform/events: {event_type} {shown}")
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.platform_url, data=body, headers=headers) as response,
        ):
            answer: dict[str, Any] = await response.json()
            self.out(f"    Antwort {response.status}: {answer.get('message', answer)}")
        await self.show("")
        return answer

    def latest_message(self, channel: str) -> dict[str, Any] | None:
        posted = [m for m in self.slack.messages(channel) if m.get("bot_id")]
        return posted[-1] if posted else None

    async def latest_reference(self) -> str:
        async with self.sessions() as session:
            reference = await session.scalar(
                select(Tender.reference).order_by(Tender.id.desc()).limit(1)
            )
        if reference is None:
            raise DemoStepFailed("es wurde keine Ausschreibung angelegt")
        return reference


class DemoStepFailed(Exception):
    """A step could not go on: the app did not do what the story needs."""


Step = Callable[[Demo], Awaitable[None]]


async def seed_people(demo: Demo) -> None:
    demo.say("Ausgangslage: Maklerin Anna Adler (4711), Backoffice Bernd, Kanal #backoffice")
    async with transaction(demo.sessions) as session:
        await add_broker(
            session,
            BrokerData(
                slack_user_id=ANNA,
                number="4711",
                name=personas.NAMES[ANNA],
                email="anna@makler-adler.example",
                cc_emails=("assistenz@makler-adler.example",),
            ),
        )


def budget_year(demo: Demo) -> int:
    """The latest budget year whose distribution day has passed, so any run date works."""
    today = demo.today()
    return due_year(today, demo.settings.budget_month_day) or today.year - 1


async def budget_is_distributed(demo: Demo) -> None:
    year = budget_year(demo)
    demo.say(
        f"Zur Jahresmitte verteilt der Planer das Budget {year}: 3 % des Neugeschäfts "
        f"{year - 1}, nur Zugangsart 1 (B1–B3)"
    )
    figures = [
        "vermittlernummer;jahr;sparte;zugangsart;beitrag",
        f"4711;{year - 1};Sach;1;30.000,00",
        f"4711;{year - 1};Haftpflicht;1;15.000,00",
        f"4711;{year - 1};Rechtsschutz;1;5.000,00",
        f"4711;{year - 1};Sach;2;20.000,00",
    ]
    for line in figures:
        demo.out(f"  FIV: {line}")
    async with transaction(demo.sessions) as session:
        imported = await import_fiv(session, figures)
        result = await distribute_budget(session, year)
    await queue_distribution_notices(demo.sessions)
    demo.out(
        f"  {imported.imported} FIV-Zeilen eingelesen; Budget {year} an {result.brokers} "
        f"Vermittler verteilt: {format_cents(result.total_cents)}"
    )
    await demo.deliver_outbox()


CALCULATOR_OFFER = {
    "consultation_id": CONSULTATION,
    "sparte": "haftpflicht",
    "insurer": "Rheinland Versicherung",
    "premium": "1.180,00",
    "offer_id": "TR-1",
    "broker_number": "4711",
    "customer_name": "Bäckerei Korn GmbH",
}


async def calculator_offer_arrives(demo: Demo) -> None:
    demo.say(f"Der Tarifrechner der Plattform meldet ein Angebot zur Beratung {CONSULTATION} (T2)")
    valid_until = (demo.today() + timedelta(days=60)).isoformat()
    await demo.platform_event("calculator.offer", {**CALCULATOR_OFFER, "valid_until": valid_until})


async def anna_starts_tender(demo: Demo) -> None:
    demo.say(
        "Anna startet eine Ausschreibung mit einem Dokument zur selben Beratung – mit "
        "Tarifrechner-Angeboten braucht sie einen Grund (T1, T2, T4, T5)"
    )
    shared = demo.slack.add_file(
        "betriebsbeschreibung.pdf",
        b"%PDF-1.4\nBetriebsbeschreibung Baeckerei Korn GmbH: Backstube, Cafe, 12 Mitarbeiter\n",
        "application/pdf",
        user=ANNA,
    )
    event: dict[str, Any] = {
        "type": "message",
        "subtype": "file_share",
        "channel": dm_channel_for(ANNA),
        "channel_type": "im",
        "user": ANNA,
        "text": "",
        "files": [shared],
    }
    event["ts"] = demo.slack.state.post(dm_channel_for(ANNA), dict(event))["ts"]
    demo.out(f"  {demo.name(ANNA)} teilt in ihrer Direktnachricht mit tenderbot: {shared['name']}")
    await demo.show(ANNA, await demo.sender.send_event(event))
    start = (
        f'neu sparte=haftpflicht kunde="Bäckerei Korn GmbH" sb=1.000 vorschaeden=keine '
        f'beschreibung="Backstube mit Café, 12 Mitarbeiter" beratung={CONSULTATION}'
    )
    await demo.command(ANNA, "/ausschreibung", start)
    await demo.command(
        ANNA, "/ausschreibung", start + ' grund="Tarifrechner deckt die Backstube nicht ab"'
    )
    demo.values["reference"] = await demo.latest_reference()


async def calculator_cannot_recalculate(demo: Demo) -> None:
    demo.say(
        "Die Plattform will das Tarifrechner-Angebot neu berechnen – die Sparte ist gesperrt (T6)"
    )
    valid_until = (demo.today() + timedelta(days=60)).isoformat()
    offer = {**CALCULATOR_OFFER, "premium": "1.150,00", "valid_until": valid_until}
    await demo.platform_event("calculator.offer", offer)


async def policies_are_issued(demo: Demo) -> None:
    reference = demo.values["reference"]
    demo.say(
        "Die Police wird mit Konzeptrabatt ausgestellt; eine zweite mit zu hohem Rabatt lehnt "
        "das Konto ab (P3)"
    )
    await demo.platform_event(
        "policy.issued",
        {
            "broker_number": "4711",
            "policy_number": "HV-2026-1001",
            "konzeptrabatt": "250,00",
            "tender_reference": reference,
        },
    )
    await demo.platform_event(
        "policy.issued",
        {"broker_number": "4711", "policy_number": "HV-2026-1002", "konzeptrabatt": "2.000,00"},
    )
    await demo.deliver_outbox()


async def policy_is_cancelled(demo: Demo) -> None:
    demo.say("Die erste Police wird ab Beginn storniert: der Konzeptrabatt kommt zurück (B4)")
    await demo.platform_event(
        "policy.cancelled", {"policy_number": "HV-2026-1001", "from_inception": True}
    )
    await demo.deliver_outbox()


async def bernd_posts_offer(demo: Demo) -> None:
    reference = demo.values["reference"]
    demo.say(f"Bernd stellt im Backoffice ein Angebot zu {reference} ein (N1)")
    # Valid for one more week, so that the expiry reminder (T10) is due at once.
    valid_until = format_date(demo.today() + timedelta(days=7))
    await demo.command(
        BERND,
        "/angebot",
        f"{reference} versicherer=Allianz beitrag=1.234,50 gueltig-bis={valid_until}",
        channel=BACKOFFICE_CHANNEL,
    )


async def notices_go_out(demo: Demo) -> None:
    demo.say("Die Benachrichtigungen gehen raus: Slack-DM und E-Mail an Anna (N1)")
    await demo.deliver_outbox()


async def anna_lists_offers(demo: Demo) -> None:
    reference = demo.values["reference"]
    demo.say("Anna sieht sich die Angebote an (T7, T8)")
    await demo.command(ANNA, "/angebote", reference)


async def anna_is_reminded(demo: Demo) -> None:
    demo.say("Eine Woche vor Ablauf erinnert der Planer Anna an das Angebot (T10)")
    result = await run_expiry_reminders(demo.settings, demo.sessions)
    demo.out(f"  Erinnerungen vorgemerkt für {result.offers} Angebot(e)")
    await demo.deliver_outbox()


async def anna_lists_tenders(demo: Demo) -> None:
    demo.say("Anna prüft ihre Ausschreibungen")
    await demo.command(ANNA, "/ausschreibung", "liste")


async def anna_asks_rabatt(demo: Demo) -> None:
    demo.say("Anna fragt nach dem Umstellungsnachlass (P4)")
    await demo.command(
        ANNA,
        "/rabatt",
        "umstellung sparte=sach renta=40 alt=1000 neu=1500 risikobonus=10 tarifjahr=2015 monate=24",
    )


async def anna_checks_budget(demo: Demo) -> None:
    demo.say("Anna prüft ihr Konzeptrabatt-Budget (B5)")
    await demo.command(ANNA, "/budget")


async def _card_thread(demo: Demo, side: str) -> tuple[str, str]:
    """Channel and ts of the tender card whose thread is the message module on ``side``."""
    async with demo.sessions() as session:
        link = await session.scalar(
            select(ThreadLink)
            .join(Tender, ThreadLink.tender_id == Tender.id)
            .where(Tender.reference == demo.values["reference"], ThreadLink.side == side)
        )
    if link is None:
        raise DemoStepFailed(f"die Karte ({side}) von {demo.values['reference']} fehlt")
    return link.channel, link.ts


async def anna_writes_first(demo: Demo) -> None:
    demo.say("Anna schreibt zuerst in den Thread – das Backoffice hat noch nicht geschrieben (M2)")
    channel, card_ts = await _card_thread(demo, "broker")
    await demo.message(ANNA, channel, "Gibt es schon etwas Neues?", thread_ts=card_ts)


async def bernd_asks_in_thread(demo: Demo) -> None:
    demo.say("Bernd stellt im Thread der Backoffice-Karte eine Rückfrage (M2, M5, N2)")
    channel, card_ts = await _card_thread(demo, "backoffice")
    await demo.message(
        BERND,
        channel,
        "Gab es in den letzten fünf Jahren Vorschäden über 5.000 €? Bitte die Schadenliste.",
        thread_ts=card_ts,
    )
    await demo.deliver_outbox()


async def anna_answers_with_attachment(demo: Demo) -> None:
    demo.say("Anna antwortet im Thread ihrer Anfragebestätigung, mit Anhang (M3)")
    channel, card_ts = await _card_thread(demo, "broker")
    shared = demo.slack.add_file(
        "schadenliste-2021-2025.pdf",
        b"%PDF-1.4\nSchadenliste Baeckerei Korn GmbH 2021-2025: keine Schaeden\n",
        "application/pdf",
        user=ANNA,
    )
    text = "Keine Vorschäden, die Schadenliste hängt an."
    event: dict[str, Any] = {
        "type": "message",
        "subtype": "file_share",
        "channel": channel,
        "channel_type": "im",
        "user": ANNA,
        "text": text,
        "thread_ts": card_ts,
        "files": [shared],
    }
    event["ts"] = demo.slack.state.post(channel, dict(event))["ts"]
    demo.out(f"  {demo.name(ANNA)} schreibt: {text} (📎 {shared['name']})")
    await demo.show(ANNA, await demo.sender.send_event(event))


def _latest_query_mail(directory: Path, recipient: str) -> EmailMessage:
    for path in sorted(directory.glob("*-query-*.eml"), reverse=True):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        if isinstance(mail, EmailMessage) and mail["To"] == recipient:
            return mail
    raise DemoStepFailed(f"keine Rückfrage-E-Mail an {recipient} in {directory}")


async def anna_answers_by_email(demo: Demo) -> None:
    demo.say("Unterwegs antwortet Anna auf die Rückfrage-E-Mail – die Antwort landet im Thread")
    notice = await asyncio.to_thread(_latest_query_mail, demo.mails, "anna@makler-adler.example")
    reply_to = str(notice["Reply-To"] or "")
    if not reply_to:
        raise DemoStepFailed("die Rückfrage-E-Mail hat keine Antwortadresse (Reply-To)")
    answer = EmailMessage()
    answer["From"] = "Anna Adler <anna@makler-adler.example>"
    answer["To"] = reply_to
    answer["Subject"] = f"AW: {notice['Subject']}"
    answer["In-Reply-To"] = str(notice["Message-ID"])
    answer["Message-ID"] = make_msgid(domain="makler-adler.example")
    new = "Nachtrag: Der Leitungswasserschaden 2019 lag bei 1.200 €, also darunter."
    answer.set_content(
        f"{new}\n\nVon meinem iPhone gesendet\n\n"
        f"> Am {demo.today():%d.%m.%Y} schrieb tenderbot <{demo.settings.mail_from}>:\n"
        "> Bernd Backoffice aus dem Backoffice hat eine Rückfrage …\n"
    )
    demo.out(f"  {demo.name(ANNA)} antwortet an {reply_to}: {new}")
    demo.out("    (darunter „Von meinem iPhone gesendet“ und die zitierte Rückfrage)")
    async with running_mail_in(demo.settings, demo.sessions, demo.app.client, port=0) as mailin:
        async with aiosmtplib.SMTP(hostname=mailin.host, port=mailin.port) as smtp:
            _refused, reply = await smtp.send_message(answer)
        demo.out(f"  mail-in antwortet: {reply}")
        await mailin.handler.settle()
    await demo.show(ANNA)


STEPS: list[Step] = [
    seed_people,
    budget_is_distributed,
    calculator_offer_arrives,
    anna_starts_tender,
    bernd_posts_offer,
    notices_go_out,
    anna_lists_offers,
    calculator_cannot_recalculate,
    policies_are_issued,
    policy_is_cancelled,
    anna_is_reminded,
    anna_lists_tenders,
    anna_asks_rabatt,
    anna_checks_budget,
    anna_writes_first,
    bernd_asks_in_thread,
    anna_answers_with_attachment,
    anna_answers_by_email,
]


def fresh_database(path: Path = DEMO_DATABASE) -> str:
    """Recreate the demo database: every run tells the same story from the start."""
    shutil.rmtree(path.parent / DEMO_MAILS, ignore_errors=True)
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    return url


async def run_demo(
    database_url: str,
    out: Output = print,
    steps: list[Step] | None = None,
    *,
    mails: Path = DEMO_MAILS,
    sessions: async_sessionmaker[AsyncSession] | None = None,
    port: int = 0,
    keep_serving: asyncio.Event | None = None,
) -> None:
    """Play ``steps`` (default ``STEPS``); ``sessions`` lets a test bring its own database.

    With ``keep_serving`` the app stays up on ``port`` until that event is set (Ctrl-C in
    the CLI), so ``curl …/metrics`` can be asked from outside.
    """
    engine = None
    if sessions is None:
        engine = make_engine(database_url)
        sessions = make_sessionmaker(engine)
    try:
        async with LocalSlack() as slack:
            for user, name in NAMES.items():
                slack.add_user(user, name)
            settings = local_settings(
                slack,
                database_url,
                backoffice_users=frozenset({BERND}),
                backoffice_channel=BACKOFFICE_CHANNEL,
                reply_domain=DEMO_REPLY_DOMAIN,
                reply_secret=DEMO_REPLY_SECRET,
                platform_secret=PLATFORM_SECRET,
            )
            async with running_app(
                settings, sessions, slack, port=port, answer_after_work=True
            ) as running:
                demo = Demo(
                    slack=slack,
                    sender=running.sender,
                    app=running.app,
                    sessions=sessions,
                    settings=settings,
                    transcript=Transcript(slack, dict(NAMES), BACKOFFICE_CHANNEL),
                    out=out,
                    mails=mails,
                    platform_url=f"{running.base_url}{PLATFORM_PATH}",
                )
                out(f"Lokales Slack: {slack.url} · App: {running.base_url}/slack/events")
                for step in steps if steps is not None else STEPS:
                    await step(demo)
                await demo.slack.settle()
                _refuse_overruns(slack)
                await show_metrics(running.base_url, out)
                if keep_serving is not None:
                    out(f"Die App läuft weiter: curl {running.base_url}/metrics (Ende: Strg+C).")
                    await keep_serving.wait()
    finally:
        if engine is not None:
            await engine.dispose()


def _refuse_overruns(slack: LocalSlack) -> None:
    """The local Slack refused a payload over Slack's limits: real Slack would have too."""
    refused = slack.refusals()
    if refused:
        first = refused[0]
        raise DemoStepFailed(
            f"Slack lehnt {first.method} ab ({len(refused)} Mal): {first.problems[0]}"
        )


async def show_metrics(base_url: str, out: Output) -> None:
    """What an operator's ``curl /metrics`` shows of the deliveries after the story."""
    async with aiohttp.ClientSession() as http, http.get(f"{base_url}/metrics") as response:
        exposition = await response.text()
    out("")
    out(f"Metriken (GET {base_url}/metrics), Zustellungen:")
    for line in exposition.splitlines():
        if line.startswith(("tenderbot_deliveries_total", "tenderbot_queue_depth")):
            out(f"  {line}")


def _is_json(text: str) -> bool:
    return text.startswith("{")
