# -*- test-case-name: tests.core.test_attributes -*-
"""
Numbers in xinetd's attribute values, read as xinetd reads them (with
C{strtol}): integers that fit a C long, sizes with a C{K} or C{M} suffix,
ports, and the numeric uids and gids.
"""

from __future__ import annotations

from txinetd.core.grammar import WHITESPACE

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "LONG_MAX",
    "LONG_MIN",
    "MAX_ID",
    "idNumber",
    "isNumericId",
    "parseInteger",
    "parsePort",
    "parseSize",
]

#: The largest uid or gid (C{(uid_t) -1} is reserved).
MAX_ID = 2**32 - 2
#: The range of a C long: xinetd reads numbers with C{strtol}, which fails
#: outside it.
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
#: The range of a C int, which C{nice()} takes.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def parseInteger(text: str, base: int = 10) -> int:
    """
    Parse an integer the way C{strtol} does for xinetd: surrounding white
    space (L{WHITESPACE}) and a sign are allowed, nothing else (no C{0x} or
    C{0o} prefix, no underscores), and the value must fit a C long.

    @param base: 10 or 8.
    @raise ValueError: for anything else.
    """
    stripped = text.strip(WHITESPACE)
    body = stripped[1:] if stripped[:1] in ("+", "-") else stripped
    if not body or body.strip("0123456789"[:base]):
        raise ValueError(text)
    value = int(stripped, base)
    if not LONG_MIN <= value <= LONG_MAX:
        raise ValueError(text)
    return value


def isNumericId(text: str) -> bool:
    return text.isascii() and text.isdigit()


def idNumber(text: str) -> int:
    """
    The value of an all-digit id; C{MAX_ID + 1} for one with too many digits
    to be an id (C{int()} refuses more than 4300).
    """
    digits = text.lstrip("0")
    return int(digits or "0") if len(digits) <= len(str(MAX_ID)) else MAX_ID + 1


def parseSize(text: str, allowSuffix: bool = True) -> int:
    """
    Parse a size with an optional C{K} or C{M} suffix (x1024, x1048576),
    at most L{LONG_MAX} once multiplied.

    @raise ValueError: if it is not one.
    """
    multiplier = 1
    text = text.rstrip(WHITESPACE)
    if allowSuffix and text[-1:].upper() in ("K", "M"):
        multiplier = 1024 if text[-1].upper() == "K" else 1024 * 1024
        text = text[:-1]
    size = parseInteger(text) * multiplier
    if not 0 <= size <= LONG_MAX:
        raise ValueError(text)
    return size


def parsePort(text: str) -> int:
    """
    A port number, 0 to 65535.

    @raise ValueError: otherwise.
    """
    value = parseInteger(text)
    if not 0 <= value <= 65535:
        raise ValueError(text)
    return value
