# -*- test-case-name: tests.core.test_grammar -*-
"""
Tests for L{txinetd.core.grammar}: the grammar of sections 2.1 to 2.4 of
the xinetd reference (lexing, entries, attribute lines) and the decided
differences (trailing C{#} comments, C{} # comment}, fatal defaults syntax
errors).  The text is read as the files of a temporary directory are (see
L{txinetd.daemon.conffiles}), so that entries may include others.
"""

from __future__ import annotations

import os
import textwrap
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from tests.documented import MAX_LINE
from tests.fakes import ConfigFiles, describe
from txinetd.core.diagnostics import Diagnostics, Location
from txinetd.core.grammar import AttributeLine, Entry, EntryKind, Operator
from txinetd.daemon.conffiles import parseConfig, parseText

#: A well-formed entry to put around the cases, to show what survives.
AFTER = """
service after
{
    port = 1
}
"""


def summary(entries: list[Entry]) -> list[tuple[Any, ...]]:
    """
    The entries as C{(kind, name, line, [(attribute, op, values, line)])}.
    """
    return [
        (
            entry.kind.value,
            entry.name,
            entry.location.line,
            [(a.name, a.op.value, a.values, a.location.line) for a in entry.lines],
        )
        for entry in entries
    ]


def names(entries: list[Entry]) -> list[str]:
    return [entry.name for entry in entries]


class ParsingCase(SynchronousTestCase):
    """
    Helpers to parse text as the file C{xinetd.conf} of a temporary base
    directory.
    """

    def setUp(self) -> None:
        self.files = ConfigFiles(self)

    def parse(self, text: str) -> tuple[list[Entry], list[str]]:
        diagnostics = Diagnostics()
        entries = parseText(textwrap.dedent(text), "xinetd.conf", diagnostics, self.files.base)
        return entries, describe(diagnostics.items)

    def parseFiles(self, main: str = "xinetd.conf") -> tuple[list[Entry], list[str]]:
        diagnostics = Diagnostics()
        entries = parseConfig(main, diagnostics, self.files.base)
        return entries, describe(diagnostics.items)

    def onlyLine(self, line: str) -> tuple[list[Entry], list[str]]:
        """
        Parse one attribute line inside a service entry starting on line 1
        (the attribute line is line 3).
        """
        return self.parse(f"service foo\n{{\n{line}\n}}\n")


# --- 2.1 lexical rules --------------------------------------------------------


class LexicalTests(ParsingCase):
    def test_blankAndCommentLines(self) -> None:
        """
        Empty lines, white-space-only lines and lines whose first
        non-white-space character is C{#} are skipped; line numbers still
        count them.
        """
        entries, diagnostics = self.parse(
            "# a comment\n\n \t \n   # indented comment\nservice foo\n#\n{\n\t#x = 1\n"
            "port = 80\n\n}\n"
        )
        self.assertEqual(summary(entries), [("service", "foo", 5, [("port", "=", ("80",), 9)])])
        self.assertEqual(diagnostics, [])

    def test_hashLaterInLineIsTrailingComment(self) -> None:
        """
        A value token starting with C{#} starts a trailing comment: it and
        the rest of the line are dropped with a warning (xinetd takes them as
        values).
        """
        entries, diagnostics = self.onlyLine("port = 80 # http port")
        self.assertEqual(entries[0].lines[0].values, ("80",))
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:3: warning: '# http port' after the values of port is taken "
                "as a comment; xinetd 2.3.15 would take it as values"
            ],
        )

    def test_hashGluedToValueIsNotComment(self) -> None:
        """
        Only a token that starts with C{#} is a comment: C{a#b} is a value.
        """
        entries, diagnostics = self.onlyLine("server_args = a#b c")
        self.assertEqual(entries[0].lines[0].values, ("a#b", "c"))
        self.assertEqual(diagnostics, [])

    def test_hashAsFirstValue(self) -> None:
        """
        A comment right after the operator leaves no values.
        """
        entries, diagnostics = self.onlyLine("only_from = #nobody")
        self.assertEqual(entries[0].lines[0].values, ())
        self.assertEqual(len(diagnostics), 1)
        self.assertIn("'#nobody' after the values of only_from", diagnostics[0])

    def test_noContinuation(self) -> None:
        """
        A trailing backslash is just a character: the next line is a line of
        its own.
        """
        entries, _ = self.parse("service foo\n{\nserver_args = a \\\nport = 7\n}\n")
        self.assertEqual(
            [(a.name, a.values) for a in entries[0].lines],
            [("server_args", ("a", "\\")), ("port", ("7",))],
        )

    def test_crlfKeepsCarriageReturn(self) -> None:
        """
        In a CRLF file the braces still match (C{\\r} is white space there)
        but the CR stays on the last token of an attribute line.
        """
        entries, diagnostics = self.parse(
            "service foo\r\n{\r\nsocket_type = stream\r\nserver_args = a b\r\n}\r\n"
        )
        self.assertEqual([a.values for a in entries[0].lines], [("stream\r",), ("a", "b\r")])
        self.assertEqual(diagnostics, [])

    def test_noQuoting(self) -> None:
        """
        Quotes are ordinary characters: C{a "b c"} is three tokens.
        """
        entries, _ = self.onlyLine('server_args = a "b c"')
        self.assertEqual(entries[0].lines[0].values, ("a", '"b', 'c"'))

    def test_keywordsCaseInsensitive(self) -> None:
        """
        C{SERVICE}, C{Defaults}, C{INCLUDE} and attribute names are
        case-insensitive; the service name and the values keep their case.
        """
        self.files.write("Other", "SerVice Two\n{\nPort = 2\n}\n")
        entries, diagnostics = self.parse(
            "DEFAULTS\n{\nLOG_TYPE = SYSLOG Daemon\n}\nSERVICE FtpPublic\n{\n"
            "Socket_Type = STREAM\n}\nINCLUDE Other\n"
        )
        self.assertEqual(
            summary(entries),
            [
                ("defaults", "defaults", 1, [("log_type", "=", ("SYSLOG", "Daemon"), 3)]),
                ("service", "FtpPublic", 5, [("socket_type", "=", ("STREAM",), 7)]),
                ("service", "Two", 1, [("port", "=", ("2",), 3)]),
            ],
        )
        self.assertEqual(diagnostics, [])

    def test_tabs(self) -> None:
        """
        Tabs separate tokens like spaces, around the operator too.
        """
        entries, _ = self.onlyLine("\tserver_args\t+=\ta\t\tb ")
        self.assertEqual(
            (entries[0].lines[0].name, entries[0].lines[0].op, entries[0].lines[0].values),
            ("server_args", Operator.ADD, ("a", "b")),
        )

    def test_otherWhiteSpaceIsPartOfValues(self) -> None:
        """
        Only spaces and tabs separate values; a form feed inside a value line
        is part of a token.
        """
        entries, _ = self.onlyLine("server_args = a\fb")
        self.assertEqual(entries[0].lines[0].values, ("a\fb",))

    def test_maxLineLength(self) -> None:
        """
        A line of exactly L{MAX_LINE} characters is read.  A longer one in
        an entry loses the entry (it could be an C{only_from}); outside an
        entry it is reported and ignored; a comment may be any length.
        """
        fits = "server_args = " + "a" * (MAX_LINE - len("server_args = "))
        entries, diagnostics = self.parse(f"service foo\n{{\n{fits}\n# {'c' * MAX_LINE}\n}}\n")
        self.assertEqual([len(a.values[0]) for a in entries[0].lines], [MAX_LINE - 14])
        self.assertEqual(diagnostics, [])
        entries, diagnostics = self.parse(
            f"{'x' * (MAX_LINE + 1)}\nservice foo\n{{\nonly_from = {'b' * MAX_LINE}\n}}\n"
        )
        self.assertEqual(entries, [])
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:1: error: line longer than 16384 characters; ignored",
                "xinetd.conf:4: error: line longer than 16384 characters",
            ],
        )

    @settings(max_examples=200, deadline=None)
    @given(st.text(alphabet=st.sampled_from(list("service{}=+-# \t\r\nabc\\\"'\x00\x0b\f\u00e9"))))
    def test_neverRaises(self, text: str) -> None:
        """
        Any text parses without an exception, and every diagnostic points at
        a line of the text.
        """
        diagnostics = Diagnostics()
        entries = parseText(text, "t.conf", diagnostics, "/nonexistent")
        lineCount = len(text.split("\n"))
        for item in diagnostics.items:
            assert item.location is not None
            self.assertTrue(1 <= item.location.line <= lineCount)
        for entry in entries:
            for line in entry.lines:
                self.assertEqual(line.name, line.name.lower())

    @settings(max_examples=100, deadline=None)
    @given(st.binary(max_size=300))
    def test_arbitraryBytes(self, data: bytes) -> None:
        """
        Any bytes, including invalid UTF-8, can be read from a file.
        """
        path = os.path.join(self.files.base, "bytes.conf")
        with open(path, "wb") as f:
            f.write(data)
        diagnostics = Diagnostics()
        parseConfig("bytes.conf", diagnostics, self.files.base)
        self.assertFalse(diagnostics.isFatal)


# --- 2.2 top-level entries ----------------------------------------------------


class EntryTests(ParsingCase):
    def test_entryRecords(self) -> None:
        """
        Entries keep their kind, name, first line and attribute lines with
        their operators and locations.
        """
        entries, diagnostics = self.parse(
            """\
            defaults
            {
                only_from += 10.0.0.0/8
            }
            service ftp
            {
                log_on_success -= PID
                port = 21
            }
            """
        )
        self.assertEqual(diagnostics, [])
        self.assertEqual(
            entries[1],
            Entry(
                EntryKind.SERVICE,
                "ftp",
                Location("xinetd.conf", 5),
                (
                    AttributeLine(
                        "log_on_success", Operator.REMOVE, ("PID",), Location("xinetd.conf", 7)
                    ),
                    AttributeLine("port", Operator.SET, ("21",), Location("xinetd.conf", 8)),
                ),
            ),
        )
        self.assertEqual(entries[0].kind, EntryKind.DEFAULTS)

    def test_restOfDefaultsAndServiceLinesIgnored(self) -> None:
        """
        Words after C{defaults} and after the service name are ignored.
        """
        entries, diagnostics = self.parse("defaults are here\n{\n}\nservice foo bar baz\n{\n}\n")
        self.assertEqual(
            summary(entries), [("defaults", "defaults", 1, []), ("service", "foo", 4, [])]
        )
        self.assertEqual(diagnostics, [])

    def test_openingBraceWithBlankAndComments(self) -> None:
        """
        Comments and blank lines may separate the entry keyword and its
        C{{}, which may be surrounded by white space.
        """
        entries, diagnostics = self.parse("service foo\n\n# c\n   {  \nport = 1\n  }\t\n")
        self.assertEqual(names(entries), ["foo"])
        self.assertEqual(diagnostics, [])

    def test_errorCases(self) -> None:
        """
        Each malformed entry is reported at its line and lost; the parser
        resynchronises at the next line made of a lone C{}} and the
        following entry is read.
        """
        cases = [
            ("service foo {\nport = 1\n}\n", "error: Service foo: missing '{'"),
            ("service foo\n{ x\nport = 1\n}\n", "error: Service foo: missing '{'"),
            ("service foo\nport = 1\n}\n", "error: Service foo: missing '{'"),
            ("service\n{\nport = 1\n}\n", "error: service name missing"),
            ("servce foo\n{\nport = 1\n}\n", "error: missing service keyword"),
            ("port = 1\n}\n", "error: missing service keyword"),
            ("include\n{\n}\n", "error: service name missing"),
            ("includedir\n}\n", "error: service name missing"),
        ]
        for text, message in cases:
            with self.subTest(text=text):
                entries, diagnostics = self.parse(text + AFTER)
                self.assertEqual(names(entries), ["after"])
                self.assertEqual(diagnostics, [f"xinetd.conf:1: {message}"])

    def test_missingBraceBeforeClosing(self) -> None:
        """
        A service line followed directly by a lone C{}} loses only that
        entry.
        """
        entries, diagnostics = self.parse("service foo\n}\n" + AFTER)
        self.assertEqual(names(entries), ["after"])
        self.assertEqual(diagnostics, ["xinetd.conf:1: error: Service foo: missing '{'"])

    def test_skipReachesEndOfFile(self) -> None:
        """
        When the skip after an error reaches the end of the file, xinetd's
        warning follows.
        """
        entries, diagnostics = self.parse("service foo {\nport = 1\n")
        self.assertEqual(entries, [])
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:1: error: Service foo: missing '{'",
                "xinetd.conf:1: warning: missing } in last service entry",
            ],
        )

    def test_serviceAtEndOfFile(self) -> None:
        """
        A service line as the last line of the file.
        """
        _, diagnostics = self.parse("service foo\n")
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:1: error: Service foo: missing '{'",
                "xinetd.conf:1: warning: missing } in last service entry",
            ],
        )

    def test_closingFollowedByText(self) -> None:
        """
        C{}} followed by something other than a comment is an attribute line
        with a bad operator: the entry is lost.  The skip ends at the next
        C{service} line, so the next entry is kept (xinetd loses it too).
        """
        entries, diagnostics = self.parse(
            "service one\n{\nport = 1\n} foo\nservice two\n{\nport = 2\n}\n" + AFTER
        )
        self.assertEqual(names(entries), ["two", "after"])
        self.assertEqual(diagnostics, ["xinetd.conf:4: error: Bad operator for attribute: }"])

    def test_missingClosingBrace(self) -> None:
        """
        A C{service} line inside an entry means the entry's C{}} is missing:
        the error is reported at that line, naming the entry and where it
        was opened; that entry is discarded and the next one is read.
        """
        entries, diagnostics = self.parse(
            "service one\n{\nport = 1\n\nservice two\n{\nport = 2\n}\n" + AFTER
        )
        self.assertEqual(names(entries), ["two", "after"])
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:5: error: missing '}' before this line: service one, opened at "
                "line 1, ends here and is discarded"
            ],
        )

    def test_missingClosingBraceOfDefaults(self) -> None:
        """
        A defaults entry without its C{}} before an C{includedir} line is
        fatal, reported at that line; the include is still read.
        """
        self.files.write("d/svc", "service inside\n{\nport = 1\n}\n")
        entries, diagnostics = self.parse("defaults\n{\ninstances = 5\nincludedir d\n")
        self.assertEqual(names(entries), ["inside"])
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:4: fatal: missing '}' before this line: the defaults, opened at "
                "line 1, ends here and is discarded"
            ],
        )

    def test_includeInsideEntry(self) -> None:
        """
        An C{include} line inside an entry (which no attribute can be) also
        ends the entry there: it is read as the include it says.
        """
        self.files.write("other", AFTER)
        entries, diagnostics = self.parse("service foo\n{\ninclude other\n")
        self.assertEqual(names(entries), ["after"])
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:3: error: missing '}' before this line: service foo, opened at "
                "line 1, ends here and is discarded"
            ],
        )

    def test_attributeNamedLikeKeyword(self) -> None:
        """
        A keyword followed by an operator is an attribute line (of an
        unknown attribute), not the start of an entry.
        """
        entries, diagnostics = self.parse("service foo\n{\nservice = x\n}\n" + AFTER)
        self.assertEqual(names(entries), ["foo", "after"])
        self.assertEqual(diagnostics, [])

    def test_skipEndsAtNextEntry(self) -> None:
        """
        The skip after an entry that could not start ends at the next
        C{service} line, which is read.
        """
        entries, diagnostics = self.parse("service one {\nport = 1\n" + AFTER)
        self.assertEqual(names(entries), ["after"])
        self.assertEqual(diagnostics, ["xinetd.conf:1: error: Service one: missing '{'"])

    def test_closingFollowedByComment(self) -> None:
        """
        C{} # comment} closes the entry, with a warning (xinetd would lose
        this entry and the next one).
        """
        entries, diagnostics = self.parse(
            "service one\n{\nport = 1\n} # end of one\nservice two\n{\nport = 2\n}\n"
        )
        self.assertEqual(names(entries), ["one", "two"])
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:4: warning: '}' followed by a comment closes the entry here; "
                "xinetd 2.3.15 would discard this entry and the next one"
            ],
        )

    def test_commentedClosingEndsSkip(self) -> None:
        """
        C{} # comment} also ends the skip after a broken entry, so the next
        entry is kept.
        """
        entries, diagnostics = self.parse("service one {\nport = 1\n} # end\n" + AFTER)
        self.assertEqual(names(entries), ["after"])
        self.assertEqual(diagnostics, ["xinetd.conf:1: error: Service one: missing '{'"])

    def test_closingGluedToComment(self) -> None:
        """
        C{}#x} is not a closing line but an attribute line with nothing
        after the name.
        """
        entries, diagnostics = self.parse("service one\n{\n}#x\n}\n" + AFTER)
        self.assertEqual(names(entries), ["after"])
        self.assertEqual(diagnostics, ["xinetd.conf:3: error: Nothing after attribute: }#x"])

    def test_endOfFileInsideEntry(self) -> None:
        """
        The end of the file inside an entry drops it with xinetd's two
        messages.
        """
        entries, diagnostics = self.parse(AFTER + "service foo\n{\nport = 1\n")
        self.assertEqual(names(entries), ["after"])
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:6: error: incomplete entry",
                "xinetd.conf:6: warning: missing } in last service entry",
            ],
        )

    def test_secondDefaultsParsed(self) -> None:
        """
        The parser returns every defaults entry; L{txinetd.core.config} decides
        that a second one in the same file is ignored.
        """
        entries, _ = self.parse("defaults\n{\n}\ndefaults\n{\n}\n")
        self.assertEqual([e.kind for e in entries], [EntryKind.DEFAULTS] * 2)


# --- 2.4 attribute lines ------------------------------------------------------


class AttributeLineTests(ParsingCase):
    def test_operators(self) -> None:
        """
        C{=}, C{+=} and C{-=}, with or without white space after them.
        """
        cases = [
            ("port = 80", "port", Operator.SET, ("80",)),
            ("port =80", "port", Operator.SET, ("80",)),
            ("port\t=\t80", "port", Operator.SET, ("80",)),
            ("only_from += 10.0.0.1", "only_from", Operator.ADD, ("10.0.0.1",)),
            ("only_from +=10.0.0.1", "only_from", Operator.ADD, ("10.0.0.1",)),
            ("only_from -= 10.0.0.1 ", "only_from", Operator.REMOVE, ("10.0.0.1",)),
            ("only_from =", "only_from", Operator.SET, ()),
            ("only_from +=   ", "only_from", Operator.ADD, ()),
            ("port == 80", "port", Operator.SET, ("=", "80")),
            ("PORT = 80", "port", Operator.SET, ("80",)),
        ]
        for text, name, op, values in cases:
            with self.subTest(text=text):
                entries, diagnostics = self.onlyLine(text)
                line = entries[0].lines[0]
                self.assertEqual((line.name, line.op, line.values), (name, op, values))
                self.assertEqual(diagnostics, [])

    def test_syntaxErrors(self) -> None:
        """
        A line that does not parse loses its whole service entry, and the
        parser skips to the entry's C{}} without reporting later lines.
        """
        cases = [
            ("port=80", "Attribute port needs a space before operator"),
            ("port+=80", "Attribute port+ needs a space before operator"),
            ("port := 80", "Bad operator for attribute: port"),
            ("port + 80", "Bad operator for attribute: port"),
            ("port 80", "Bad operator for attribute: port"),
            ("port", "Nothing after attribute: port"),
            ("port \t ", "Nothing after attribute: port"),
            ("port\r", "Nothing after attribute: port"),
        ]
        for text, message in cases:
            with self.subTest(text=text):
                entries, diagnostics = self.parse(
                    f"service foo\n{{\n{text}\nalso=bad\n}}\n" + AFTER
                )
                self.assertEqual(names(entries), ["after"])
                self.assertEqual(diagnostics, [f"xinetd.conf:3: error: {message}"])

    def test_defaultsSyntaxErrorIsFatal(self) -> None:
        """
        A line syntax error in a defaults section is fatal, with the line's
        message (xinetd ignores the rest of the section, which can lose an
        C{only_from}); the rest of the file is still read and reported.
        """
        entries, diagnostics = self.parse(
            "defaults\n{\ninstances = 5\nonly_from=10.0.0.1\n}\nservice foo\n{\nport=1\n}\n" + AFTER
        )
        self.assertEqual(names(entries), ["after"])
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:4: fatal: Attribute only_from needs a space before operator",
                "xinetd.conf:8: error: Attribute port needs a space before operator",
            ],
        )

    def test_lostDefaultsAreFatal(self) -> None:
        """
        A defaults entry lost to a missing C{{} or to the end of the file is
        fatal too.
        """
        cases = [
            ("defaults {\nonly_from = 10.0.0.1\n}\n", "fatal: defaults: missing '{'"),
            ("defaults\n{\nonly_from = 10.0.0.1\n", "fatal: incomplete entry"),
        ]
        for text, message in cases:
            with self.subTest(text=text):
                diagnostics = Diagnostics()
                entries = parseText(text, "xinetd.conf", diagnostics, self.files.base)
                self.assertEqual(entries, [])
                self.assertTrue(diagnostics.isFatal)
                self.assertEqual(describe(diagnostics.items)[0], f"xinetd.conf:1: {message}")
