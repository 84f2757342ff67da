"""`tenderbot rabatt "<anfrage>"`: answer a FirmenKonzept discount query (rules P1–P5).

The bot layer reads the Kombirabatt rate file; `pricing` itself stays free of I/O.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from pricing import KombiRateTable, KombiTableError, QueryError, answer_request, parse_query
from pricing.requests import KombiRequest

KOMBI_RATES_ENV = "TENDERBOT_KOMBI_RATES"
# click's convention for a usage error; a query that does not parse is one.
USAGE_ERROR = 2


def load_kombi_table(path: Path) -> KombiRateTable:
    try:
        return KombiRateTable.from_toml(path.read_text(encoding="utf-8"))
    except (OSError, KombiTableError) as error:
        raise click.ClickException(f"Kombirabatt-Tabelle {path}: {error}") from error


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
    text = " ".join(query)
    try:
        request = parse_query(text)
        # Only a kombi query needs the table, so a broken file cannot block other answers.
        table = (
            load_kombi_table(kombi_table)
            if kombi_table is not None and isinstance(request, KombiRequest)
            else None
        )
        answer = answer_request(request, kombi_table=table)
    except QueryError as error:
        click.echo(str(error), err=True)
        raise SystemExit(USAGE_ERROR) from error
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        click.echo(answer.to_text())
