"""One tone: every German text a person reads addresses them as "Sie", never "du".

Scans the string literals of the packages that produce user-facing text (docstrings are
English and left out) and every notification template. Capitalised "Ihr" is the polite
form and the lower-case "ihr" is also "her" ("Anna prüft ihr Budget"), so neither is
searched; the words below have no polite or third-person reading.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("handlers", "store", "pricing", "notifications", "bot")
TEMPLATES = ROOT / "notifications" / "templates"

DU_FORMS = re.compile(
    r"\b(du|dich|dir|dein|deine[mnrs]?|euch|euer|eure[mnrs]?"
    r"|bist|hast|kannst|musst|willst|wirst|solltest|darfst|habt)\b",
    re.IGNORECASE,
)


def du_forms(text: str) -> list[str]:
    return [match.group() for match in DU_FORMS.finditer(text)]


def _docstrings(tree: ast.Module) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def string_literals(path: Path) -> Iterator[tuple[int, str]]:
    """Every string literal of a module except docstrings, f-string parts included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.lineno, node.value


def test_it_finds_du_forms_and_leaves_the_polite_form_alone() -> None:
    assert du_forms("Du bist jetzt Bernd. Hast du dein Angebot?") == [
        "Du",
        "bist",
        "Hast",
        "du",
        "dein",
    ]
    assert du_forms("Sie sind jetzt Bernd. Ihr Angebot; Anna prüft ihr Budget.") == []
    assert du_forms("Dirk dient der Direktion") == []


@pytest.mark.parametrize("package", SOURCES)
def test_it_says_sie_in_every_string_of_the_package(package: str) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {form!r} in {text[:60]!r}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, text in string_literals(path)
        for form in du_forms(text)
    ]
    assert found == []


def test_it_says_sie_in_every_notification_template() -> None:
    templates = sorted(TEMPLATES.rglob("*.j2"))
    assert templates, "the notification templates moved; point this test at them"
    found = [
        f"{path.relative_to(ROOT)}: {form!r}"
        for path in templates
        for form in du_forms(path.read_text(encoding="utf-8"))
    ]
    assert found == []
