"""The `tenderbot` console script: one click group, one module per command family.

Commands are imported only when they run (see bot.cli.lazy). To add one, write its module
under bot/cli/ and add one line to COMMANDS: name → Lazy("module:attribute", first sentence
of its help). Nothing else imports the module, so `tenderbot --help` stays quick.

This module itself does not import click: `tenderbot --help` and `tenderbot rabatt …` are
answered without it (bot.cli.quick), and ``cli``, the click group, is built on first use.
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING

from bot.cli.quick import Lazy, answer_quickly

if TYPE_CHECKING:
    from bot.cli.lazy import LazyGroup

HELP = "tenderbot – der Ausschreibungs-Schalter in Slack und E-Mail."

COMMANDS: dict[str, Lazy] = {
    "broker": Lazy(
        "bot.cli.broker:broker",
        "Vermittler verwalten (Slack-Nutzer ↔ Vermittlernummer ↔ E-Mail).",
    ),
    "budget": Lazy("bot.cli.budget:budget", "Konzeptrabatt-Budget (Regeln B1–B5)."),
    "console": Lazy(
        "bot.cli.console:console", "Als Slack-Nutzer tippen – gegen ein lokales Slack und die App."
    ),
    "db": Lazy("bot.cli.db:db", "Datenbank verwalten."),
    "demo": Lazy(
        "bot.cli.demo:demo", "Eine ganze Ausschreibung lokal durchspielen (ohne Slack-Konto)."
    ),
    "fiv": Lazy(
        "bot.cli.fiv:fiv", "FIV-Neugeschäftszahlen (Grundlage des Konzeptrabatt-Budgets, B1)."
    ),
    "localslack": Lazy(
        "bot.cli.localslack:localslack", "Die lokale Slack-Web-API allein starten (Entwicklung)."
    ),
    "mail-in": Lazy(
        "bot.cli.mail_in:mail_in",
        "E-Mail-Antworten auf Benachrichtigungen annehmen (SMTP für TENDERBOT_REPLY_DOMAIN).",
    ),
    "queue": Lazy(
        "bot.cli.queue:queue",
        "Warteschlange aller Zustellungen (E-Mail, Slack): wartende und tote Einträge.",
    ),
    "platform": Lazy(
        "bot.cli.platform:platform",
        "Ereignisse der Plattform (Policen, Storno, Kredit, Tarifrechner) von Hand.",
    ),
    "rabatt": Lazy("bot.cli.rabatt:rabatt", "Rabattvollmachten im FirmenKonzept abfragen (P1–P5)."),
    "scheduler": Lazy(
        "bot.cli.scheduler:scheduler",
        "Zeitplan starten: Budget (B1–B3), Erinnerungen (T10), Nachfassen (T9).",
    ),
    "serve": Lazy(
        "bot.cli.serve:serve_command",
        "Slack-App über HTTP bereitstellen (POST /slack/events, GET /healthz).",
    ),
    "socket": Lazy(
        "bot.cli.serve:socket_command",
        "Slack-App über Socket Mode verbinden (braucht SLACK_APP_TOKEN).",
    ),
}


def __getattr__(name: str) -> LazyGroup:
    """``cli``: the click group, built (and click imported) when first asked for."""
    if name != "cli":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from bot.cli.lazy import make_group

    group = make_group(COMMANDS, HELP)
    globals()["cli"] = group
    return group


def main() -> None:
    try:
        code = answer_quickly(sys.argv[1:], COMMANDS, HELP)
        if code is not None:
            sys.exit(code)
        __getattr__("cli")(prog_name="tenderbot")
    finally:
        # The interpreter's last garbage collection at exit walks every object the command
        # made, SQLAlchemy's and the models' above all: 0.3–0.7 s after the work is done and
        # the output written. Frozen, they are left to the end of the process, which frees
        # them at once; atexit handlers and the modules' teardown still run.
        gc.freeze()
