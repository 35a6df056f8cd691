"""CSV cells a spreadsheet will not run: formula injection neutralised in every export.

A spreadsheet opening a CSV file treats a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula (``=HYPERLINK(...)`` to leak data, ``=cmd|' /C calc'!A0`` to run a program on old Excel),
and some also when it starts with a tab or a carriage return. Point names, descriptions, units and
text values come from the building network, where anyone may set them, so every cell of every
export passes through :func:`neutralise`: the admin's exports (``SecureModelView.get_export_value``)
and the API's CSV answers alike.

The rule is OWASP's ("CSV Injection"): a cell that starts with one of :data:`FORMULA_STARTS` gets a
single quote in front, which spreadsheets read as "this is text". We also count a leading line
feed (a cell can begin with one inside quotes) and the full-width ``＝ ＋ － ＠`` that some
spreadsheet locales accept as formula starts.

One exception, on purpose: a cell that is exactly a plain decimal number (``-3.5``, ``+2``,
``1e-05``; ASCII digits, one optional sign, nothing else) is left alone. A spreadsheet reads such a
cell as that number and nothing more, and quoting it would turn every negative temperature into
text (no sums, no charts). The test is on the whole cell, so ``-3.5+cmd|' /C calc'!A0`` or
``-1)`` are neutralised like any other text. Non-finite floats (rows stored before the engine
reported NaN/Infinity as text) are written as an empty cell, as JSON writes them as null.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

#: First characters that make a spreadsheet evaluate a cell (OWASP's list, a line feed, and the
#: full-width equals/plus/minus/at signs).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: Put in front of a cell that would otherwise be a formula.
NEUTRALISER = "'"

# A plain decimal number and nothing else (re.ASCII: only the digits 0-9).
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def neutralise(value: object) -> str:
    """The text of one CSV cell for ``value``, safe to open in a spreadsheet.

    None is an empty cell; numbers are written as numbers; anything else as its text, with a
    single quote in front when it starts like a formula and is not a plain number.
    """
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return NEUTRALISER + text
    return text


def safe_row(values: Iterable[object]) -> list[str]:
    """A CSV row with every cell :func:`neutralise`\\ d."""
    return [neutralise(value) for value in values]
