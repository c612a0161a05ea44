# -*- test-case-name: tests.core.test_grammar,tests.test_fuzz_config -*-
"""
The xinetd.conf lexer and parser: text to raw entries.

This module knows the grammar only (section 2 of the xinetd reference):
C{defaults} and C{service} entries, attribute lines with C{=}, C{+=} and
C{-=}, C{include} and C{includedir}.  What an attribute means is
L{txinetd.core.attributes}' business and how entries combine is
L{txinetd.core.config}'s; reading the files, those included too, is
L{txinetd.daemon.conffiles}'.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Protocol

from txinetd.core.diagnostics import Diagnostics, Location, Severity

MAX_LINE = 16 * 1024
TOO_LONG = f"line longer than {MAX_LINE} characters"
#: What C{isspace} accepts in the C locale: white space for blank lines,
#: entry braces and the end of an attribute name.
WHITESPACE = " \t\n\v\f\r"


class Operator(enum.Enum):
    """
    An attribute line's operator.
    """

    SET = "="
    ADD = "+="
    REMOVE = "-="


class EntryKind(enum.Enum):
    """
    The two kinds of entry.
    """

    DEFAULTS = "defaults"
    SERVICE = "service"


@dataclass(frozen=True)
class AttributeLine:
    """
    One C{name op values...} line.

    @ivar name: the attribute name, in lower case.
    @ivar op: its L{Operator}.
    @ivar values: the value tokens (possibly none).
    @ivar location: where the line is.
    """

    name: str
    op: Operator
    values: tuple[str, ...]
    location: Location


@dataclass(frozen=True)
class Entry:
    """
    A C{defaults} or C{service} entry whose lines all parsed.

    @ivar kind: its L{EntryKind}.
    @ivar name: the service name (the word after C{service}); C{"defaults"}
        for a defaults entry.
    @ivar location: where its first line is.
    @ivar lines: its attribute lines, in order.
    """

    kind: EntryKind
    name: str
    location: Location
    lines: tuple[AttributeLine, ...]


class _LineSyntaxError(Exception):
    """
    An attribute line that does not parse.
    """


#: An attribute's name: up to the first white space or C{=}.
_NAME = re.compile(f"[^{re.escape(WHITESPACE)}=]*")


def _tokens(text: str) -> list[str]:
    """
    Split on spaces and tabs only, as xinetd does: a CR or any other
    character stays part of its token.
    """
    return [token for token in text.replace("\t", " ").split(" ") if token]


def _isBlank(text: str) -> bool:
    stripped = text.lstrip(WHITESPACE)
    return not stripped or stripped.startswith("#")


def _isClosing(text: str) -> bool:
    return text.strip(WHITESPACE) == "}"


def _isCommentedClosing(text: str) -> bool:
    """
    Whether a line is C{}} followed by a comment, which txinetd takes as
    the end of the entry (xinetd takes it as a bad attribute line).
    """
    if "}" not in text:
        return False
    words = _tokens(text)
    return len(words) >= 2 and words[0] == "}" and words[1].startswith("#")


def _closes(text: str) -> bool:
    return "}" in text and (_isClosing(text) or _isCommentedClosing(text))


def _isOpening(text: str) -> bool:
    return text.strip(WHITESPACE) == "{"


#: The words that begin a top-level line.
_TOP_LEVEL = frozenset({"defaults", "service", "include", "includedir"})

#: Their first letters: a line that starts otherwise starts no entry.
_TOP_LEVEL_INITIALS = frozenset(word[0] for word in _TOP_LEVEL)


def _startsEntry(text: str) -> bool:
    """
    Whether a line inside an entry is the start of another: a top-level
    keyword not followed by an operator (no attribute has such a name), so
    the entry it is in lacks its C{}}.
    """
    if text.lstrip(WHITESPACE)[:1].lower() not in _TOP_LEVEL_INITIALS:
        return False
    words = _tokens(text)
    return (
        bool(words)
        and words[0].lower() in _TOP_LEVEL
        and not (len(words) > 1 and words[1].startswith(("=", "+=", "-=")))
    )


class Includes(Protocol):
    """
    What reads the files that C{include} and C{includedir} lines name.
    """

    def include(self, path: str, location: Location) -> None:
        """
        Parse the file C{path}, as named at C{location}.
        """

    def includeDirectory(self, directory: str, location: Location) -> None:
        """
        Parse the files of C{directory}, as named at C{location}.
        """


class EntryParser:
    """
    The parser of one file's text: its entries are appended to C{entries},
    its problems recorded in C{diagnostics}, and its C{include} and
    C{includedir} lines handed to C{includes}, which parses what they name
    (with parsers of its own) before this parser goes on.
    """

    def __init__(
        self,
        path: str,
        lines: list[str],
        diagnostics: Diagnostics,
        entries: list[Entry],
        includes: Includes,
    ) -> None:
        self.path = path
        self.lines = lines
        self.diagnostics = diagnostics
        self.entries = entries
        self.includes = includes
        self.index = 0
        #: The attribute lines of this file already parsed without a
        #: remark, by their text: most services repeat most lines
        #: (C{socket_type = stream}), which are then parsed once.
        self.known: dict[str, tuple[str, Operator, tuple[str, ...]]] = {}

    def location(self, index: int | None = None) -> Location:
        return Location(self.path, (self.index if index is None else index) + 1)

    def nextLine(self) -> tuple[int, str] | None:
        """
        The next line that is neither blank nor a comment, or L{None} at the
        end of the file.
        """
        while self.index < len(self.lines):
            index = self.index
            text = self.lines[index]
            self.index += 1
            if not _isBlank(text):
                return index, text
        return None

    def skipEntry(self, location: Location) -> None:
        """
        Skip lines up to and including the next line that closes an entry,
        as xinetd does to resynchronise after an error, or up to the next
        line that starts an entry (which is read next; xinetd would skip it
        too).

        @param location: the entry being skipped, for the warning given when
            the file ends first.
        """
        while (item := self.nextLine()) is not None:
            if _closes(item[1]):
                return
            if _startsEntry(item[1]):
                self.index = item[0]
                return
        self.diagnostics.warning("missing } in last service entry", location)

    def entryError(self, kind: EntryKind, message: str, location: Location) -> None:
        """
        Report an error that loses an entry: an error for a service, fatal
        for the defaults (losing them could lose an C{only_from}).
        """
        severity = Severity.FATAL if kind is EntryKind.DEFAULTS else Severity.ERROR
        self.diagnostics.add(severity, message, location)

    def parse(self) -> None:
        while (item := self.nextLine()) is not None:
            index, text = item
            if len(text) > MAX_LINE:
                self.diagnostics.error(TOO_LONG + "; ignored", self.location(index))
                continue
            words = _tokens(text)
            keyword = words[0].lower()
            location = self.location(index)
            if keyword == "defaults":
                self.parseEntry(EntryKind.DEFAULTS, "defaults", location)
            elif keyword not in ("service", "include", "includedir"):
                self.diagnostics.error("missing service keyword", location)
                self.skipEntry(location)
            elif len(words) < 2:
                self.diagnostics.error("service name missing", location)
                self.skipEntry(location)
            elif keyword == "service":
                self.parseEntry(EntryKind.SERVICE, words[1], location)
            elif keyword == "include":
                self.includes.include(words[1], location)
            else:
                self.includes.includeDirectory(words[1], location)

    def parseEntry(self, kind: EntryKind, name: str, location: Location) -> None:
        item = self.nextLine()
        if item is None or not _isOpening(item[1]):
            label = "defaults" if kind is EntryKind.DEFAULTS else f"Service {name}"
            self.entryError(kind, f"{label}: missing '{{'", location)
            if item is None or not _closes(item[1]):
                self.skipEntry(location)
            return
        lines: list[AttributeLine] = []
        broken = False
        known = self.known
        texts = self.lines
        count = len(texts)
        while self.index < count:
            index = self.index
            text = texts[index]
            self.index = index + 1
            parsed = known.get(text)
            if parsed is not None:
                # An attribute line seen before: none of the tests below
                # can say otherwise this time.
                if not broken:
                    lines.append(AttributeLine(*parsed, Location(self.path, index + 1)))
                continue
            if _isBlank(text):
                continue
            if _isClosing(text):
                break
            if _isCommentedClosing(text):
                self.diagnostics.warning(
                    "'}' followed by a comment closes the entry here; xinetd 2.3.15 "
                    "would discard this entry and the next one",
                    self.location(index),
                )
                break
            if _startsEntry(text):
                # The entry lacks its '}': it ends here, and this line is
                # read again as the start of the next one.
                self.index = index
                if not broken:
                    self.entryError(kind, self.unclosed(kind, name, location), self.location(index))
                return
            if broken:
                continue
            if len(text) > MAX_LINE:
                self.entryError(kind, TOO_LONG, self.location(index))
                broken = True
                continue
            try:
                lines.append(self.parseAttribute(text, self.location(index)))
            except _LineSyntaxError as e:
                self.entryError(kind, str(e), self.location(index))
                broken = True
        else:
            self.entryError(kind, "incomplete entry", location)
            self.diagnostics.warning("missing } in last service entry", location)
            return
        if not broken:
            self.entries.append(Entry(kind, name, location, tuple(lines)))

    @staticmethod
    def unclosed(kind: EntryKind, name: str, location: Location) -> str:
        """
        The message for an entry whose C{}} is missing, given at the line
        that starts the next entry.
        """
        label = "the defaults" if kind is EntryKind.DEFAULTS else f"service {name}"
        return (
            f"missing '}}' before this line: {label}, opened at line {location.line}, ends "
            "here and is discarded"
        )

    def parseAttribute(self, text: str, location: Location) -> AttributeLine:
        body = text.lstrip(WHITESPACE)
        end = _NAME.match(body).end()  # type: ignore[union-attr]
        name, rest = body[:end], body[end:]
        if rest.startswith("="):
            raise _LineSyntaxError(f"Attribute {name} needs a space before operator")
        rest = rest.lstrip(WHITESPACE)
        if not rest:
            raise _LineSyntaxError(f"Nothing after attribute: {name}")
        for op in (Operator.ADD, Operator.REMOVE, Operator.SET):
            if rest.startswith(op.value):
                break
        else:
            raise _LineSyntaxError(f"Bad operator for attribute: {name}")
        values = _tokens(rest[len(op.value) :])
        for position, token in enumerate(values):
            if token.startswith("#"):
                self.diagnostics.warning(
                    f"'{' '.join(values[position:])}' after the values of {name} is taken as a "
                    "comment; xinetd 2.3.15 would take it as values",
                    location,
                )
                return AttributeLine(name.lower(), op, tuple(values[:position]), location)
        parsed = (name.lower(), op, tuple(values))
        self.known[text] = parsed
        return AttributeLine(*parsed, location)
