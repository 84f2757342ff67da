"""`tenderbot mail-in`: the SMTP server that takes e-mail answers to notices."""

from __future__ import annotations

import contextlib
import logging

import click

from bot.cli.common import run, settings_or_exit


@click.command(
    "mail-in",
    help="E-Mail-Antworten auf Benachrichtigungen annehmen (SMTP für TENDERBOT_REPLY_DOMAIN).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Adresse zum Lauschen.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=2525, show_default=True, help="SMTP-Port."
)
def mail_in(host: str, port: int) -> None:
    # Imported here: other commands need neither aiosmtpd nor the reply parser.
    from bot.cli.common import with_sessions
    from bot.logs import setup_logging
    from bot.mail_in import serve_mail_in

    settings = settings_or_exit()
    if settings.reply_domain is None:
        raise click.ClickException(
            "TENDERBOT_REPLY_DOMAIN is not set: mail-in needs the domain the reply "
            "addresses use (and TENDERBOT_REPLY_SECRET)"
        )
    setup_logging(settings)
    # aiosmtpd logs every SMTP command at INFO; our own log line per mail says what counts.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    click.echo(
        f"tenderbot mail-in nimmt Antworten an antwort+…@{settings.reply_domain} "
        f"auf {host}:{port} an – beenden mit Strg+C."
    )

    async def serve() -> None:
        await with_sessions(
            settings, lambda sessions: serve_mail_in(settings, sessions, host, port)
        )

    try:
        with contextlib.suppress(KeyboardInterrupt):
            run(serve())
    except OSError as error:
        raise click.ClickException(f"cannot start: {error}") from None
