"""`tenderbot rabatt "<anfrage>"`: answer a FirmenKonzept discount query (rules P1–P5).

The bot layer reads the Kombirabatt rate file; `pricing` itself stays free of I/O. The
console script answers the usual forms of this command without click (bot.cli.quick, with
the same ``rabatt_answer``); this click command answers the rest, its help and its errors.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.quick import KOMBI_RATES_ENV, USAGE_ERROR, rabatt_answer
from pricing import KombiTableError, QueryError

__all__ = ["KOMBI_RATES_ENV", "rabatt"]


@click.command(
    help=(
        "Rabattvollmachten im FirmenKonzept abfragen (P1–P5). "
        'Beispiel: tenderbot rabatt "umstellung sparte=sach renta=40 alt=1000 neu=1500 '
        'tarifjahr=2015 monate=24". „hilfe“ zeigt alle Formen.'
    )
)
@click.argument("query", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Antwort als ein JSON-Objekt ausgeben.")
@click.option(
    "--kombi-table",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=KOMBI_RATES_ENV,
    help=f"TOML-Datei mit den Kombirabatt-Sätzen (oder Umgebungsvariable {KOMBI_RATES_ENV}).",
)
def rabatt(query: tuple[str, ...], as_json: bool, kombi_table: Path | None) -> None:
    # Both `rabatt "umstellung …"` and `rabatt umstellung …` are natural on a shell.
    try:
        answer = rabatt_answer(" ".join(query), as_json, kombi_table)
    except QueryError as error:
        click.echo(str(error), err=True)
        raise SystemExit(USAGE_ERROR) from error
    except (OSError, KombiTableError) as error:
        raise click.ClickException(f"Kombirabatt-Tabelle {kombi_table}: {error}") from error
    click.echo(answer)
