"""`tenderbot --help` and `tenderbot rabatt …` answered without click read exactly as click
answers them, and everything else is left to click."""

from __future__ import annotations

import io
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import pricing
from bot.cli.main import COMMANDS, HELP, cli
from bot.cli.quick import KOMBI_RATES_ENV, answer_quickly, render_help

UMSTELLUNG = (
    "umstellung sparte=sach renta=40 alt=1000 neu=1500 risikobonus=10 tarifjahr=2015 "
    "monate=24 geschaeft=ersatz segment=ja"
)
TABLE = str(Path(pricing.__file__).parent / "kombi_rates.example.toml")


def quick(args: list[str]) -> tuple[int | None, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = answer_quickly(args, COMMANDS, HELP, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def by_click(args: list[str], env: dict[str, str | None]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, env=env, prog_name="tenderbot")
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("columns", ["80", "200", "66", "72"])
def test_it_lists_the_commands_as_click_lists_them(
    columns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # click's own page for the terminal's width (CliRunner would force 80 columns).
    monkeypatch.setenv("COLUMNS", columns)
    with click.Context(cli, info_name="tenderbot") as ctx:
        page = cli.get_help(ctx) + "\n"
    assert quick(["--help"]) == (0, page, "")


def test_it_leaves_a_help_page_that_click_would_wrap_to_click() -> None:
    # 50 columns is click's narrowest page; the group's sentence needs more.
    assert render_help(COMMANDS, HELP, 50) is None


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["rabatt", UMSTELLUNG], {}),
        (["rabatt", *UMSTELLUNG.split()], {}),
        (["rabatt", "--json", UMSTELLUNG], {}),
        (["rabatt", UMSTELLUNG, "--json"], {}),
        (["rabatt", "hilfe"], {}),
        (["rabatt", "--", "hilfe"], {}),
        (["rabatt", "risikobonus klasse=durchschnitt wunsch=15"], {}),
        (["rabatt", "--json", UMSTELLUNG.replace("renta=40", "rente=40")], {}),
        (["rabatt", "--json", "--kombi-table", TABLE, "kombi sach haft"], {}),
        (["rabatt", f"--kombi-table={TABLE}", "kombi", "sach", "haft", "rs"], {}),
        (["rabatt", "--json", "kombi sach haft rs beitrag=1.000 €"], {KOMBI_RATES_ENV: TABLE}),
        (["rabatt", "kombi sach haft"], {KOMBI_RATES_ENV: ""}),
        (["rabatt", "--kombi-table", "/nowhere/rates.toml", UMSTELLUNG], {}),
    ],
)
def test_it_answers_rabatt_exactly_as_the_click_command_does(
    args: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KOMBI_RATES_ENV, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out, err = quick(args)
    assert code is not None
    assert (code, out, err) == by_click(args, {KOMBI_RATES_ENV: None, **env})
    assert out or err


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["rabatt"],
        ["rabatt", "--help"],
        ["rabatt", "--jsn", UMSTELLUNG],
        ["rabatt", "--json", "--json=1", UMSTELLUNG],
        ["rabatt", "--kombi-table"],
        ["rabatt", "--kombi-table", "/tmp", UMSTELLUNG],
        ["rabatt", "--kombi-table", TABLE, "--kombi-table", TABLE, "kombi sach haft"],
        ["--help", "rabatt"],
        ["fiv", "import", "--help"],
    ],
)
def test_it_leaves_everything_else_to_click(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KOMBI_RATES_ENV, raising=False)
    assert quick(args) == (None, "", "")


def test_it_leaves_a_broken_kombi_table_to_click_which_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "rates.toml"
    broken.write_text("[saetze]\n1 = 0\n", encoding="utf-8")
    args = ["rabatt", "--kombi-table", str(broken), "kombi sach haft"]
    assert quick(args) == (None, "", "")
    code, _out, err = by_click(args, {})
    assert code == 1
    assert f"Kombirabatt-Tabelle {broken}: " in err
