"""SMS length: GSM-7 vs UCS-2 encoding and the number of segments a message costs.

Carriers bill per segment and long messages arrive split or garbled, so every planned SMS
records its encoding and segment count. One character outside the GSM 03.38 alphabet (for
example Spanish 'á' or a curly quote) switches the whole message to UCS-2, which cuts a
segment from 160 to 70 characters; "smart encoding" swaps such characters for their closest
GSM look-alike first, as SMS providers do.
"""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 basic character set (one septet each).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: escape + character, so two septets each.
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")

# Look-alikes used by smart encoding: characters outside GSM-7 that have a GSM neighbour.
SMART_REPLACEMENTS = {
    "á": "a",
    "í": "i",
    "ó": "o",
    "ú": "u",
    "Á": "A",
    "Í": "I",
    "Ó": "O",
    "Ú": "U",
    "È": "E",
    "Ê": "E",
    "ê": "e",
    "ë": "e",
    "Ë": "E",
    "ï": "i",
    "Ï": "I",
    "î": "i",
    "Î": "I",
    "ô": "o",
    "Ô": "O",
    "û": "u",
    "Û": "U",
    "â": "a",
    "Â": "A",
    "À": "A",
    "ã": "a",
    "Ã": "A",
    "õ": "o",
    "Õ": "O",
    "ç": "Ç",
    "ý": "y",
    "ÿ": "y",
    "Ì": "I",
    "Ò": "O",
    "Ù": "U",
    "‘": "'",
    "’": "'",
    "‚": ",",
    "“": '"',
    "”": '"',
    "„": '"',
    "–": "-",
    "—": "-",
    "…": "...",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\u200b": "",
    "•": "-",
}

GSM_SINGLE, GSM_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


@dataclass(frozen=True)
class SmsLength:
    """How a text travels as SMS."""

    encoding: str  # 'GSM-7' | 'UCS-2'
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


_GSM_ALL = GSM_BASIC | GSM_EXTENDED
# str.translate table of the look-alikes (only characters outside GSM-7 are ever replaced)
_SMART_TABLE = str.maketrans({k: v for k, v in SMART_REPLACEMENTS.items() if k not in _GSM_ALL})


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM 03.38 basic or extension table."""
    return set(text) <= _GSM_ALL


def smart_encode(text: str) -> str:
    """Replace characters outside GSM-7 by their look-alike where one exists."""
    return text if is_gsm7(text) else text.translate(_SMART_TABLE)


def _pack(widths: list[int], per_segment: int) -> int:
    """Segments needed when a character (escape pair, surrogate pair) is never split."""
    segments, used = 1, 0
    for width in widths:
        if used + width > per_segment:
            segments, used = segments + 1, 0
        used += width
    return segments


def sms_length(text: str) -> SmsLength:
    """Encoding, length in encoding units, and segment count (0 for an empty text)."""
    if is_gsm7(text):
        extended = sum(text.count(ch) for ch in GSM_EXTENDED)
        if len(text) + extended <= GSM_SINGLE:  # the usual case: no per-character work
            return SmsLength("GSM-7", len(text) + extended, 1 if text else 0)
        widths = [2 if ch in GSM_EXTENDED else 1 for ch in text]
        single, multi, encoding = GSM_SINGLE, GSM_MULTI, "GSM-7"
    else:
        widths = [2 if ord(ch) > 0xFFFF else 1 for ch in text]  # emoji: a surrogate pair
        single, multi, encoding = UCS2_SINGLE, UCS2_MULTI, "UCS-2"
    units = sum(widths)
    if units == 0:
        segments = 0
    elif units <= single:
        segments = 1
    else:
        segments = _pack(widths, multi)
    return SmsLength(encoding=encoding, units=units, segments=segments)
