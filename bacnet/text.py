"""Device-supplied text made safe to store, show and export: :func:`clean_text`.

A characterstring from the network may hold anything its encoding can: NUL padding from old
controllers (PostgreSQL refuses NUL in text), control characters that break log lines and CSV
rows, Unicode bidi controls that make a name display as something else ("Trojan Source"), lone
surrogates no database can encode, and any length. :func:`clean_text` is the one place that
removes all of that; every string the engine returns went through it.

What it does, in order:

1. anything that is not a ``str`` becomes one without raising: ``bytes``-like values are decoded
   as UTF-8 with replacement characters, other objects through ``str()`` (an object whose
   ``str()`` fails becomes ``""``);
2. only the first :data:`SCAN_FACTOR` x ``limit`` characters are looked at (the rest could never
   be kept; this bounds the work on a hostile megabyte string);
3. terminal escape sequences (CSI ``ESC [ ... m`` colours and cursor moves, OSC ``ESC ] ... BEL``
   window titles, and their one-octet C1 forms) are removed whole, so no "[31m" is left behind;
4. line and field separators (TAB, LF, VT, FF, CR, the C0 separators FS/GS/RS/US, NEL, U+2028,
   U+2029) become one space per run: "Zone 1\\r\\nTemp" reads as "Zone 1 Temp", not "Zone 1Temp";
5. every other C0 and C1 control character and DEL is removed, and so are the bidi embedding,
   override, isolate and mark characters (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F,
   U+061C), the byte-order mark U+FEFF and lone surrogates (U+D800-U+DFFF);
6. leading and trailing whitespace is stripped and the result capped at ``limit`` characters
   (then stripped again, so a cut never leaves a trailing space).
"""

from __future__ import annotations

import re

#: How many characters per kept character are examined at most (see step 2 above): padding and
#: control characters are removed before the cap, so a little more than ``limit`` is read.
SCAN_FACTOR = 8
#: Characters examined at least, whatever the limit.
MIN_SCAN = 1024

#: Terminal escape sequences: CSI (ESC [ or U+009B, parameters, intermediates, a final byte) and
#: OSC (ESC ] or U+009D, text, ended by BEL, ESC \ or U+009C; unterminated, only ESC goes).
_ESCAPES = re.compile("(?:\x1b\\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b\\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\\\|\x9c)")
#: Separators that become a space (one per run).
_SPACE_LIKE = re.compile("[\t\n\x0b\x0c\r\x1c-\x1f\x85\u2028\u2029]+")
#: Characters removed outright: the remaining C0 controls, DEL and C1 controls, bidi controls,
#: the BOM and lone surrogates.
_REMOVED = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f"
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff"
    "\ud800-\udfff]+"
)


def as_str(raw: object) -> str:
    """``raw`` as a plain ``str``, never raising (see step 1 of the module docstring)."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        # A str subclass (bacpypes3's CharacterString) may override __str__; its characters are
        # what it holds.
        return str.__str__(raw)
    if isinstance(raw, (bytes, bytearray, memoryview)):
        return bytes(raw).decode("utf-8", errors="replace")
    try:
        text = str(raw)
    except Exception:  # noqa: BLE001 - a value whose str() fails is simply no text
        return ""
    return text if type(text) is str else ""


def clean_text(raw: object, limit: int) -> str:
    """``raw`` as text without control, bidi or padding characters, at most ``limit`` characters."""
    text = as_str(raw)
    text = text[:max(limit * SCAN_FACTOR, MIN_SCAN)]
    if not text.isprintable():  # the common case (plain names) skips both substitutions
        text = _REMOVED.sub("", _SPACE_LIKE.sub(" ", _ESCAPES.sub("", text)))
    return text.strip()[:limit].rstrip()
