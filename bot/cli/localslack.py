"""`tenderbot localslack`: the local Slack Web API on its own, for development by hand."""

from __future__ import annotations

import contextlib

import click

from bot.cli.common import run
from bot.http import until_stopped
from bot.localslack import Call, LocalSlack


def _describe(call: Call) -> str:
    where = call.params.get("channel") or call.params.get("user_id") or call.params.get("user")
    text = str(call.params.get("text") or "").replace("\n", " ")
    outcome = "ok" if call.status == 200 and call.response.get("ok") else "FEHLER"
    detail = call.response.get("error") or ""
    parts = [call.method, str(where or ""), text[:60], outcome, str(detail)]
    return " · ".join(part for part in parts if part)


async def _serve(host: str, port: int) -> None:
    async with LocalSlack(host, port) as slack:
        slack.on_call(lambda call: click.echo(_describe(call)))
        click.echo(f"Lokales Slack läuft: {slack.url}")
        click.echo(f"Für die App: SLACK_API_URL={slack.url} (beenden mit Strg+C)")
        await until_stopped()


@click.command("localslack", help="Die lokale Slack-Web-API allein starten (Entwicklung).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
def localslack(host: str, port: int) -> None:
    try:
        with contextlib.suppress(KeyboardInterrupt):
            run(_serve(host, port))
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None
