"""`tenderbot fiv import`: the FIV new-business figures behind the yearly budget (rule B1)."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli.common import in_transaction, run, settings_or_exit
from bot.cli.progress import progress
from store.fiv import HEADER, FivImportResult, import_fiv_file


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


@click.group(help="FIV-Neugeschäftszahlen (Grundlage des Konzeptrabatt-Budgets, B1).")
def fiv() -> None:
    pass


@fiv.command(
    "import",
    help=(
        "FIV-Zahlen aus CSV übernehmen (UTF-8, „;“-getrennt, Kopfzeile "
        + ";".join(HEADER)
        + ", Beträge wie 1.234,56). Ein erneuter Import ersetzt die Zahlen der enthaltenen "
        "Vermittler-Jahr-Paare. Standard: alles oder nichts."
    ),
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Gültige Zeilen übernehmen und fehlerhafte nur melden.",
)
def fiv_import(file: Path, skip_invalid: bool) -> None:
    settings = settings_or_exit()

    with progress(f"FIV-Import {file.name}", file.stat().st_size) as advance:

        async def work(session: AsyncSession) -> FivImportResult:
            return await import_fiv_file(session, file, skip_invalid=skip_invalid, progress=advance)

        try:
            result = run(in_transaction(settings, work))
        except SQLAlchemyError as error:
            raise click.ClickException(
                f"FIV import failed on {settings.database_url_for_logs}: "
                f"{type(error).__name__}: {error.args[0] if error.args else error}"
            ) from None
    years = ", ".join(str(year) for year in sorted(result.years)) or "–"
    click.echo(
        f"{_count(result.imported, 'Zeile', 'Zeilen')} übernommen "
        f"({_count(result.pairs, 'Vermittler-Jahr-Paar', 'Vermittler-Jahr-Paare')} ersetzt, "
        f"Jahre: {years})."
    )
    if result.skipped_total:
        click.echo(
            f"{_count(result.skipped_total, 'fehlerhafte Zeile', 'fehlerhafte Zeilen')} "
            "übersprungen:",
            err=True,
        )
        for problem in result.skipped:
            click.echo(f"  {problem}", err=True)
        if result.skipped_total > len(result.skipped):
            click.echo(f"  … und {result.skipped_total - len(result.skipped)} weitere.", err=True)
