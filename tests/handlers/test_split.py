"""Cutting long text for Slack: every character kept, in order, between words."""

from __future__ import annotations

import pytest

from handlers.blocks.split import pack, paginate, split_text


def test_it_keeps_short_text_in_one_piece() -> None:
    assert split_text("Vorschäden: keine", 3000) == ["Vorschäden: keine"]
    assert split_text("", 3000) == [""]


def test_it_cuts_after_a_paragraph_before_a_line_before_a_word() -> None:
    text = "a" * 50 + "\n\n" + "b" * 30 + "\n" + "c" * 10 + " " + "d" * 20
    assert split_text(text, 100) == ["a" * 50 + "\n\n", "b" * 30 + "\n" + "c" * 10 + " " + "d" * 20]
    text = "a" * 60 + "\n" + "b" * 30 + " " + "c" * 20
    assert split_text(text, 100) == ["a" * 60 + "\n", "b" * 30 + " " + "c" * 20]
    words = " ".join(["Wort"] * 30)
    pieces = split_text(words, 20)
    assert "".join(pieces) == words
    assert all(len(piece) <= 20 and piece.startswith("Wort") for piece in pieces)


def test_it_cuts_a_single_overlong_word_but_never_an_escaped_character() -> None:
    text = "x" * 7 + "&amp;" * 10
    pieces = split_text(text, 10)
    assert "".join(pieces) == text
    assert all(len(piece) <= 10 for piece in pieces)
    assert pieces[0] == "x" * 7
    assert all(piece.count("&") == piece.count(";") for piece in pieces)


def test_it_refuses_a_limit_too_small_to_cut_sensibly() -> None:
    with pytest.raises(ValueError, match="too small"):
        split_text("Text", 3)


def test_it_packs_lines_and_pages_without_losing_or_reordering_any() -> None:
    lines = [f"Zeile {n} " + "x" * (n * 7 % 40) for n in range(50)]
    packed = pack(lines, 100)
    assert "\n".join(packed) == "\n".join(lines)
    assert all(len(text) <= 100 for text in packed)
    pages = paginate(packed, 300, 2)
    assert [text for page in pages for text in page] == packed
    assert all(len(page) <= 2 and sum(map(len, page)) <= 300 for page in pages)
    assert paginate([], 300, 2) == [[]]


def test_it_never_puts_a_line_break_inside_a_split_line() -> None:
    long = " ".join(["Wort"] * 40)  # 199 characters, split at 100 after the 20th word
    assert pack(["Kopfzeile", long, "Ende"], 100) == [
        "Kopfzeile",
        "Wort " * 20,
        ("Wort " * 20).strip(),
        "Ende",
    ]
    assert pack(["a", "b" * 150, "c"], 100) == ["a", "b" * 100, "b" * 50 + "\nc"]
