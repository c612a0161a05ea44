# -*- test-case-name: tests.core.test_conffile -*-
"""
Tests for L{txinetd.core.conffile} and L{txinetd.core.diagnostics}: the grammar of
sections 2.1 to 2.4 of the xinetd reference (lexing, entries, include and
includedir, attribute lines) and the decided differences (trailing C{#}
comments, C{} # comment}, fatal defaults syntax errors).
"""

from __future__ import annotations

import os
import textwrap
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.documented import MAX_LINE
from tests.fakes import ConfigFiles, describe
from txinetd.core.conffile import (
    AttributeLine,
    Entry,
    EntryKind,
    Operator,
    includedFiles,
    parseConfig,
    parseText,
)
from txinetd.core.diagnostics import ConfigError, Diagnostic, Diagnostics, Location, Severity

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


# --- 2.3 include / includedir -------------------------------------------------


class IncludeTests(ParsingCase):
    def test_includeInPlace(self) -> None:
        """
        An included file's entries come where the C{include} line is, and
        its diagnostics carry its own path and lines.
        """
        self.files.write("xinetd.conf", "service a\n{\n}\ninclude more.conf\nservice c\n{\n}\n")
        self.files.write("more.conf", "\nservice b\n{\nbad\n}\nservice b2\n{\n}\n")
        entries, diagnostics = self.parseFiles()
        self.assertEqual(names(entries), ["a", "b2", "c"])
        self.assertEqual(entries[1].location, Location("more.conf", 6))
        self.assertEqual(diagnostics, ["more.conf:4: error: Nothing after attribute: bad"])

    def test_onlyFirstWordAfterInclude(self) -> None:
        """
        Words after the file name are ignored.
        """
        self.files.write("xinetd.conf", "include more.conf and more\n")
        self.files.write("more.conf", "service b\n{\n}\n")
        entries, diagnostics = self.parseFiles()
        self.assertEqual((names(entries), diagnostics), (["b"], []))

    def test_nestedIncludes(self) -> None:
        """
        Included files may include further files.
        """
        self.files.write("xinetd.conf", "include one\nservice z\n{\n}\n")
        self.files.write("one", "service a\n{\n}\ninclude two\n")
        self.files.write("two", "service b\n{\n}\nincludedir d\n")
        self.files.write("d/c", "service c\n{\n}\n")
        entries, diagnostics = self.parseFiles()
        self.assertEqual((names(entries), diagnostics), (["a", "b", "c", "z"], []))

    def test_missingInclude(self) -> None:
        """
        A missing included file is an error at the include line; parsing
        goes on.
        """
        self.files.write("xinetd.conf", "\ninclude nowhere.conf\n" + AFTER)
        entries, diagnostics = self.parseFiles()
        self.assertEqual(names(entries), ["after"])
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:2: error: Unable to open included configuration file: nowhere.conf "
                f"({self.files.base}/nowhere.conf): No such file or directory (errno = 2)"
            ],
        )
        path = os.path.join(self.files.base, "xinetd.d", "..", "nowhere.conf")
        self.files.write("xinetd.conf", f"include {path}\n")
        _, diagnostics = self.parseFiles()
        self.assertEqual(
            diagnostics,
            [
                f"xinetd.conf:1: error: Unable to open included configuration file: {path} "
                f"({self.files.base}/nowhere.conf): No such file or directory (errno = 2)"
            ],
        )
        path = os.path.join(self.files.base, "nowhere.conf")
        self.files.write("xinetd.conf", f"include {path}\n")
        _, diagnostics = self.parseFiles()
        self.assertEqual(
            diagnostics,
            [
                f"xinetd.conf:1: error: Unable to open included configuration file: {path}: "
                "No such file or directory (errno = 2)"
            ],
        )

    def test_relativePathsWarned(self) -> None:
        """
        With C{warnRelative} (C{--check}), a relative C{include} or
        C{includedir} path is warned about, naming the directory it
        resolves against; absolute ones are not.
        """
        self.files.write("d/x", AFTER)
        self.files.write("y", "")
        base = self.files.base
        self.files.write("xinetd.conf", f"include y\nincludedir d\ninclude {base}/y\n")
        diagnostics = Diagnostics()
        entries = parseConfig("xinetd.conf", diagnostics, base, warnRelative=True)
        self.assertEqual(names(entries), ["after"])
        self.assertEqual(
            describe(diagnostics.items),
            [
                f"xinetd.conf:{line}: warning: relative path {path} resolves against the "
                f"directory txinetd starts in (here {base}; / under systemd); give an "
                "absolute path"
                for line, path in [(1, "y"), (2, "d")]
            ],
        )
        self.assertEqual(self.parseFiles(), (entries, []))

    def test_missingMainFile(self) -> None:
        """
        A main file that cannot be opened is fatal, with no location.
        """
        diagnostics = Diagnostics()
        self.assertEqual(parseConfig("absent.conf", diagnostics, self.files.base), [])
        self.assertEqual(
            describe(diagnostics.items),
            ["fatal: open( absent.conf ) failed: No such file or directory (errno = 2)"],
        )

    def test_includeDepthLimit(self) -> None:
        """
        A file that includes itself is read once: the include is refused
        as a loop.  (A chain of distinct files deeper than
        L{MAX_INCLUDE_DEPTH} is refused too; see tests.test_fuzz_config.)
        """
        self.files.write("loop.conf", "service s\n{\n}\ninclude loop.conf\n")
        entries, diagnostics = self.parseFiles("loop.conf")
        self.assertEqual(len(entries), 1)
        self.assertEqual(
            diagnostics,
            [
                "loop.conf:4: error: Unable to open included configuration file: loop.conf "
                "(include loop)"
            ],
        )

    def test_relativePathsFromBaseDirectory(self) -> None:
        """
        Relative include and includedir paths resolve against the base
        directory, not against the including file's directory.
        """
        self.files.write("etc/xinetd.conf", "include etc/extra\nincludedir etc/xinetd.d\n")
        self.files.write("etc/extra", "service extra\n{\n}\n")
        self.files.write("etc/xinetd.d/echo", "service echo\n{\n}\n")
        entries, diagnostics = self.parseFiles("etc/xinetd.conf")
        self.assertEqual((names(entries), diagnostics), (["extra", "echo"], []))
        self.assertEqual(entries[1].location, Location("etc/xinetd.d/echo", 1))

    def test_absolutePaths(self) -> None:
        """
        Absolute paths are used as they are.
        """
        target = os.path.join(self.files.base, "abs")
        self.files.write("abs", "service abs\n{\n}\n")
        self.files.write("xinetd.conf", f"include {target}\n")
        entries, _ = self.parseFiles()
        self.assertEqual(entries[0].location, Location(target, 1))


class IncludeDirectoryTests(ParsingCase):
    def test_byteOrderAndSkippedNames(self) -> None:
        """
        Files are read in byte order (C{E} before C{a}); names containing a
        dot or ending in C{~} are skipped, as in xinetd, and each is named
        with the reason (xinetd says nothing).
        """
        for name in ["b", "a", "E", "_z", "foo.conf", ".hidden", "ftp.rpmsave", "backup~", "Z9"]:
            self.files.write(f"d/{name}", f"service {name}\n{{\n}}\n")
        self.files.write("xinetd.conf", "includedir d\n")
        entries, diagnostics = self.parseFiles()
        self.assertEqual(names(entries), ["E", "Z9", "_z", "a", "b"])
        dot = "is skipped: includedir reads no file whose name contains a dot, as xinetd"
        self.assertEqual(
            diagnostics,
            [
                f"xinetd.conf:1: info: d/.hidden {dot}",
                "xinetd.conf:1: info: d/backup~ is skipped: includedir reads no file whose name "
                "ends in ~, as xinetd",
                f"xinetd.conf:1: info: d/foo.conf {dot}",
                f"xinetd.conf:1: info: d/ftp.rpmsave {dot}",
            ],
        )

    def test_subdirectoryNotRecursed(self) -> None:
        """
        A sub-directory is reported and skipped, not recursed.
        """
        self.files.write("d/sub/inner", "service inner\n{\n}\n")
        self.files.write("d/z", "service z\n{\n}\n")
        self.files.write("xinetd.conf", "\nincludedir d\n")
        entries, diagnostics = self.parseFiles()
        self.assertEqual(names(entries), ["z"])
        self.assertEqual(
            diagnostics, ["xinetd.conf:2: error: d/sub is not a regular file. It is being skipped."]
        )

    def test_symlinks(self) -> None:
        """
        Symbolic links are followed; a dangling one cannot be stat'ed.
        """
        self.files.write("real", "service linked\n{\n}\n")
        os.makedirs(os.path.join(self.files.base, "d"))
        os.symlink(os.path.join(self.files.base, "real"), os.path.join(self.files.base, "d/a"))
        os.symlink("/nonexistent/target", os.path.join(self.files.base, "d/b"))
        self.files.write("xinetd.conf", "includedir d\n")
        entries, diagnostics = self.parseFiles()
        self.assertEqual(names(entries), ["linked"])
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:1: error: Unable to stat includedir file d/b: "
                "No such file or directory (errno = 2)"
            ],
        )

    def test_unreadableDirectory(self) -> None:
        """
        A directory that cannot be listed (missing, or a file) is an error;
        parsing goes on.
        """
        self.files.write("plain", "")
        errors = {
            "missing": "No such file or directory (errno = 2)",
            "plain": "Not a directory (errno = 20)",
        }
        for directory, error in errors.items():
            with self.subTest(directory=directory):
                self.files.write("xinetd.conf", f"includedir {directory}\n" + AFTER)
                entries, diagnostics = self.parseFiles()
                self.assertEqual(names(entries), ["after"])
                self.assertEqual(
                    diagnostics,
                    [
                        f"xinetd.conf:1: error: Unable to read included directory: {directory} "
                        f"({self.files.base}/{directory}): {error}"
                    ],
                )

    def test_includedFiles(self) -> None:
        """
        L{includedFiles} yields the paths as the configuration writes them.
        """
        self.files.write("d/x", "")
        diagnostics = Diagnostics()
        found = list(
            includedFiles(os.path.join(self.files.base, "d"), "d", diagnostics, Location("c", 1))
        )
        self.assertEqual((found, diagnostics.items), (["d/x"], ()))


NOBODY = 65534


class StrictModesTests(ParsingCase):
    """
    Configuration files and C{includedir} directories that others than
    root (and the daemon's user) could have written are refused, as sshd's
    C{StrictModes} refuses such files: a file such a user drops would run
    commands as root.  (Changing owners needs root.)
    """

    def setUp(self) -> None:
        super().setUp()
        if os.geteuid() != 0:
            raise SkipTest("changing owners needs root")

    def path(self, name: str) -> str:
        return os.path.join(self.files.base, name)

    def test_worldWritableDirectory(self) -> None:
        """
        An C{includedir} anyone can write to is not read at all (anyone
        could rename or replace its files); parsing goes on.
        """
        self.files.write("d/a", "service a\n{\n}\n")
        os.chmod(self.path("d"), 0o777)
        self.files.write("xinetd.conf", "includedir d\n" + AFTER)
        entries, diagnostics = self.parseFiles()
        self.assertEqual(names(entries), ["after"])
        self.assertEqual(
            diagnostics,
            ["xinetd.conf:1: error: Unable to read included directory: d (writable by everyone)"],
        )

    def test_stickyDirectory(self) -> None:
        """
        In a sticky directory anyone can write to (others cannot replace
        root's files there), root's files are read; a file another user
        dropped, or one anyone (or a group with other members) can write,
        is refused with the line of its C{includedir}.
        """
        for name in ("a", "b", "c", "d", "e"):
            self.files.write(f"d/{name}", f"service {name}\n{{\n}}\n")
        os.chmod(self.path("d"), 0o1777)
        os.chown(self.path("d/b"), NOBODY, NOBODY)
        os.chmod(self.path("d/c"), 0o666)
        os.chmod(self.path("d/d"), 0o664)
        os.chown(self.path("d/d"), 0, NOBODY)
        os.chmod(self.path("d/e"), 0o664)
        self.files.write("xinetd.conf", "\nincludedir d\n")
        entries, diagnostics = self.parseFiles()
        self.assertEqual(names(entries), ["a", "e"])
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:2: error: Unable to open included configuration file: d/b "
                f"(owned by uid {NOBODY})",
                "xinetd.conf:2: error: Unable to open included configuration file: d/c "
                "(writable by everyone)",
                "xinetd.conf:2: error: Unable to open included configuration file: d/d "
                f"(writable by group {NOBODY})",
            ],
        )

    def test_pathOpenToOthers(self) -> None:
        """
        A file whose path goes through a directory another user owns (who
        could replace it) is refused, and so is a symbolic link planted in
        a directory others can write.
        """
        self.files.write("theirs/sub/conf", "service x\n{\n}\n")
        os.chown(self.path("theirs"), NOBODY, NOBODY)
        self.files.write("real", "service real\n{\n}\n")
        os.makedirs(self.path("shared"))
        os.chmod(self.path("shared"), 0o1777)
        os.symlink(self.path("real"), self.path("shared/link"))
        self.files.write("xinetd.conf", "include theirs/sub/conf\ninclude shared/link\n")
        entries, diagnostics = self.parseFiles()
        self.assertEqual(names(entries), [])
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:1: error: Unable to open included configuration file: "
                f"theirs/sub/conf (directory {self.path('theirs')} is owned by uid {NOBODY})",
                "xinetd.conf:2: error: Unable to open included configuration file: shared/link "
                "(link is a symbolic link in a directory writable by everyone; not followed)",
            ],
        )

    def test_mainFile(self) -> None:
        """
        The main file is held to the same rule: refusing it is fatal.
        """
        self.files.write("xinetd.conf", AFTER)
        os.chown(self.path("xinetd.conf"), NOBODY, NOBODY)
        entries, diagnostics = self.parseFiles()
        self.assertEqual(
            (entries, diagnostics),
            ([], [f"fatal: open( xinetd.conf ) failed: owned by uid {NOBODY}"]),
        )

    def test_off(self) -> None:
        """
        Without strict modes every one of them is read, as by xinetd.
        """
        self.files.write("d/b", "service b\n{\n}\n")
        os.chmod(self.path("d"), 0o777)
        os.chown(self.path("d/b"), NOBODY, NOBODY)
        self.files.write("xinetd.conf", "includedir d\n" + AFTER)
        os.chown(self.path("xinetd.conf"), NOBODY, NOBODY)
        diagnostics = Diagnostics()
        entries = parseConfig("xinetd.conf", diagnostics, self.files.base, strictModes=False)
        self.assertEqual((names(entries), diagnostics.items), (["b", "after"], ()))


# --- errors.py ----------------------------------------------------------------


class DiagnosticsTests(SynchronousTestCase):
    def test_strings(self) -> None:
        """
        A diagnostic reads C{path:line: severity: message}; without a
        location, C{severity: message}.
        """
        self.assertEqual(
            str(Diagnostic(Severity.WARNING, "m", Location("a.conf", 3))),
            "a.conf:3: warning: m",
        )
        self.assertEqual(str(Diagnostic(Severity.FATAL, "m")), "fatal: m")

    def test_countAndFatal(self) -> None:
        diagnostics = Diagnostics()
        diagnostics.warning("w")
        diagnostics.error("e")
        self.assertEqual(diagnostics.count(Severity.WARNING, Severity.ERROR), 2)
        self.assertFalse(diagnostics.isFatal)
        diagnostics.fatal("f")
        self.assertTrue(diagnostics.isFatal)

    def test_inFileOrder(self) -> None:
        """
        L{Diagnostics.inFileOrder} sorts by the order in which files were
        noted, then by line; unlocated diagnostics come first and those of
        one line keep their order.
        """
        diagnostics = Diagnostics()
        diagnostics.noteFile("main")
        diagnostics.noteFile("inc")
        diagnostics.noteFile("main")
        diagnostics.error("inc 5", Location("inc", 5))
        diagnostics.error("main 9 first", Location("main", 9))
        diagnostics.warning("main 2", Location("main", 2))
        diagnostics.fatal("nowhere")
        diagnostics.error("main 9 second", Location("main", 9))
        diagnostics.error("unnoted", Location("other", 1))
        self.assertEqual(
            [d.message for d in diagnostics.inFileOrder()],
            ["nowhere", "main 2", "main 9 first", "main 9 second", "inc 5", "unnoted"],
        )
        self.assertEqual(diagnostics.items[0].message, "inc 5")

    def test_configError(self) -> None:
        """
        L{ConfigError}'s text is every diagnostic, one per line.
        """
        items = (
            Diagnostic(Severity.ERROR, "a", Location("x", 1)),
            Diagnostic(Severity.FATAL, "b"),
        )
        error = ConfigError(items)
        self.assertEqual(str(error), "x:1: error: a\nfatal: b")
        self.assertEqual(error.diagnostics, items)
