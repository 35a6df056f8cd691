"""Device-supplied text is cleaned once, at the boundary: no NUL, controls, bidi tricks, or excess length."""

from __future__ import annotations

import pytest
from bacpypes3.primitivedata import CharacterString

from bacnet.text import MIN_SCAN, SCAN_FACTOR, as_str, clean_text

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


@pytest.mark.parametrize("raw, expected", [
    ("AHU-1", "AHU-1"),
    ("AHU-1\x00\x00\x00\x00", "AHU-1"),  # NUL padding of old controllers
    ("\x00A\x00H\x00U", "AHU"),  # UTF-16 read as 8-bit
    ("Zone 1\r\nTemp", "Zone 1 Temp"),  # a line break is a separator, not glue
    ("a\tb\x0bc\x0cd", "a b c d"),
    ("a\x1cb\x1dc\x1ed\x1fe", "a b c d e"),  # C0 separators split lines in Python
    ("a\x85b\u2028c\u2029d", "a b c d"),  # NEL and the Unicode line/paragraph separators
    ("bell\x07 del\x7f", "bell del"),
    ("Boiler\x1b[31m Room\x1b[0m", "Boiler Room"),  # terminal colours go whole, not just the ESC
    ("Plant \x1b]0;owned\x07room", "Plant room"),  # a window-title sequence
    ("AHU\x9b2J-1 \x9d0;t\x9c", "AHU-1"),  # the same in their one-octet C1 forms
    ("\x1b]AHU-1", "]AHU-1"),  # unterminated: only the ESC goes, the text stays
    ("c1\x80\x9b\x9f", "c1"),
    (f"invoice{BIDI}txt.exe", "invoicetxt.exe"),  # "Trojan Source" reordering removed
    ("\u202eevil\u202c", "evil"),
    ("\ufeffBOM name", "BOM name"),
    ("lone \ud800 surrogate", "lone  surrogate"),
    ("  padded \u00a0", "padded"),
    ("Zürich — Süd", "Zürich — Süd"),  # ordinary non-ASCII text is kept
    ("👩‍🔧 room", "👩‍🔧 room"),  # zero-width joiner inside an emoji is not a bidi control
    ("", ""),
    ("\x00\x00", ""),
])
def test_clean_text_removes_what_a_device_must_not_put_in_our_data(raw, expected) -> None:
    assert clean_text(raw, 255) == expected


def test_cleaned_text_holds_no_control_or_format_characters() -> None:
    hostile = "".join(chr(code) for code in range(0x00, 0xA0)) + BIDI + "\ufeff\ud800\udfff"
    cleaned = clean_text("x" + hostile + "y", 1000)
    assert cleaned.startswith("x") and cleaned.endswith("y")
    assert cleaned.isprintable()
    cleaned.encode("utf-8")  # no lone surrogate left: every database can store it


@pytest.mark.parametrize("limit", [1, 64, 255, 1000])
def test_length_is_capped_in_characters(limit) -> None:
    assert clean_text("x" * 300 + "é" * 3000, limit) == ("x" * 300 + "é" * 3000)[:limit]
    assert len(clean_text("€" * (limit + 5), limit)) == limit  # characters, not bytes


def test_a_cut_never_leaves_trailing_space() -> None:
    assert clean_text("abc def", 4) == "abc"


def test_work_on_a_huge_string_is_bounded() -> None:
    # Only the first SCAN_FACTOR x limit characters are examined: a megabyte of NULs before a
    # name leaves nothing, quickly, instead of scanning it all.
    assert clean_text("\x00" * 1_000_000 + "name", 255) == ""
    assert clean_text("\x00" * (255 * SCAN_FACTOR - 4) + "name", 255) == "name"
    assert clean_text("n" * 10, 1) == "n" and MIN_SCAN >= 1024


@pytest.mark.parametrize("raw, expected", [
    (None, ""),
    (b"AHU\x00-1", "AHU-1"),
    (bytearray(b"caf\xc3\xa9"), "café"),
    (memoryview(b"\xff\xfeX"), "\ufffd\ufffdX"),  # undecodable octets become replacement characters
    (12.5, "12.5"),
])
def test_any_value_becomes_text_without_raising(raw, expected) -> None:
    assert clean_text(raw, 255) == expected
    assert clean_text(CharacterString("AHU\x00-2"), 255) == "AHU-2"  # bacpypes3's str subclass


def test_a_value_whose_str_fails_is_no_text() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    class NotAString:
        def __str__(self):  # type: ignore[no-untyped-def]
            return 42

    assert as_str(Broken()) == "" and as_str(NotAString()) == ""


def test_a_str_subclass_gives_its_characters_not_its_str() -> None:
    class Odd(str):
        def __str__(self) -> str:
            return "something else"

    assert as_str(Odd("AHU-1")) == "AHU-1" and type(as_str(Odd("x"))) is str
