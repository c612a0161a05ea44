# -*- test-case-name: tests.test_fuzz_config -*-
"""
The configuration loader under bad input: generated and mutated
configurations, binary garbage, huge lines and files, very many services,
include loops and files that cannot be read.

Whatever the input, L{txinetd.daemon.loading.loadConfig} returns a
L{txinetd.core.config.Config} and never raises; every diagnostic names a file and
a line of that file (C{path:line:}; only a main file that cannot be read is
reported without a line, as C{open( path ) failed: ...}); loading ends
within a bound (hypothesis deadlines, pytest-timeout, and a pipe without a
writer does not block); and the good services of a file with bad ones are
loaded.  A few fuzzed files also go through the real
C{twistd -n xinetd --check}: exit status 1, C{path:line} messages, no
traceback.

The normal suite runs the example counts of L{EXAMPLES}' first column;
C{TXINETD_SOAK=1} runs the second.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.documented import MAX_DIAGNOSTICS, MAX_FILES, MAX_INCLUDE_DEPTH, MAX_LINE, MAX_SIZE
from tests.fakes import FakeSystem, fakeInternalServices
from txinetd.core.attributes import ATTRIBUTES
from txinetd.core.config import Config
from txinetd.core.diagnostics import Diagnostic, Location, Severity, printable
from txinetd.core.values import GroupSpec
from txinetd.daemon.loading import loadConfig

SOAK = os.environ.get("TXINETD_SOAK") == "1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")

#: Examples per property test: (normal suite, TXINETD_SOAK=1).
EXAMPLES: dict[str, tuple[int, int]] = {
    "generated": (1000, 20000),
    "goodServicesSurvive": (600, 10000),
    "mutated": (1000, 20000),
    "garbage": (400, 5000),
    "includeGraphs": (300, 4000),
    "hugeLines": (4, 40),
    "manyServices": (2, 10),
    "hugeGarbage": (2, 10),
}

settings.register_profile(
    "txinetd-fuzz",
    deadline=timedelta(seconds=5),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
settings.register_profile(
    "txinetd-fuzz-soak", settings.get_profile("txinetd-fuzz"), deadline=timedelta(seconds=20)
)
PROFILE = settings.get_profile("txinetd-fuzz-soak" if SOAK else "txinetd-fuzz")


def timeLimit(seconds: int) -> pytest.MarkDecorator:
    """
    pytest-timeout's limit for a property test: C{seconds}, twenty times
    that in the soak mode.
    """
    return pytest.mark.timeout(seconds * 20 if SOAK else seconds)


def fuzzing(test: str, deadline: float | None = None) -> settings:
    """
    The hypothesis settings of one test: its number of examples from
    L{EXAMPLES} and, for tests of huge inputs, a longer deadline (seconds).
    """
    normal, soak = EXAMPLES[test]
    extra: dict[str, Any] = {} if deadline is None else {"deadline": timedelta(seconds=deadline)}
    return settings(PROFILE, max_examples=soak if SOAK else normal, **extra)


# --- what every load must satisfy --------------------------------------------

WHITESPACE = " \t\n\v\f\r"


def load(base: str, main: str = "xinetd.conf") -> Config:
    """
    Load a configuration with the fake system tables, as root.
    """
    return loadConfig(
        main,
        system=FakeSystem(),
        internalServices=fakeInternalServices(),
        baseDirectory=base,
        euid=0,
    )


def lineCount(base: str, path: str) -> int:
    """
    How many lines a location in C{path} may name: those of a regular file,
    1 for anything else (a pipe reads as one empty line).
    """
    full = os.path.join(base, path)
    if not os.path.isfile(full):
        return 1
    try:
        with open(full, "rb") as f:
            return f.read().count(b"\n") + 1
    except OSError:
        return 1


def defaultsBefore(base: str, location: Location, anywhere: bool = False) -> bool:
    """
    Whether a line whose first word is C{defaults} (in any case) comes at
    or before C{location} in its file (C{anywhere}: in the whole file): only
    an error in a defaults section (or an unreadable main file, which has
    no location) is fatal.
    """
    try:
        with open(os.path.join(base, location.path), "rb") as f:
            lines = f.read().split(b"\n")
    except OSError:
        return False
    if not anywhere:
        lines = lines[: location.line]
    return any(line.split()[:1] == [b"defaults"] for line in map(bytes.lower, lines))


class SoundCase(SynchronousTestCase):
    """
    Checks that hold for any loaded configuration, and a fresh directory per
    example.
    """

    def setUp(self) -> None:
        self.parent = os.path.abspath(self.mktemp())
        os.makedirs(self.parent)

    @contextmanager
    def tree(self) -> Iterator[str]:
        """
        A new empty directory, removed afterwards.
        """
        base = tempfile.mkdtemp(dir=self.parent)
        try:
            yield base
        finally:
            shutil.rmtree(base)

    def assertSound(self, config: Config, base: str) -> None:
        """
        Every diagnostic reads C{path:line: severity: message} on one line
        that any text stream can take and points at a line of the file it
        names; every service's location does too.  A fatal diagnostic is
        the main file's failed open or comes after a C{defaults} line.
        """
        counts: dict[str, int] = {}
        for diagnostic in config.diagnostics:
            text = str(diagnostic)
            self.assertNotIn("\n", text)
            text.encode("utf-8")
            if diagnostic.location is None:
                self.assertUnlocated(diagnostic, config.path)
            else:
                self.assertTrue(text.startswith(printable(f"{diagnostic.location}: ")), text)
                self.assertLocated(diagnostic.location, base, counts)
                if diagnostic.severity is Severity.FATAL:
                    # The count of unreported problems is as bad as the worst.
                    counted = diagnostic.message.endswith(" from here on are not reported")
                    self.assertTrue(defaultsBefore(base, diagnostic.location, counted), text)
        for service in config.services:
            self.assertLocated(service.location, base, counts)

    def assertUnlocated(self, diagnostic: Diagnostic, main: str) -> None:
        self.assertIs(diagnostic.severity, Severity.FATAL)
        self.assertTrue(diagnostic.message.startswith(f"open( {main} ) failed: "), diagnostic)

    def assertLocated(self, location: Location, base: str, counts: dict[str, int]) -> None:
        if location.path not in counts:
            counts[location.path] = lineCount(base, location.path)
        self.assertTrue(location.path, location)
        self.assertIn(location.line, range(1, counts[location.path] + 1), location)

    def write(self, base: str, path: str, data: bytes) -> None:
        """
        Write a file under C{base}, making its directories.
        """
        full = os.path.join(base, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)

    def writeFiles(self, base: str, files: dict[str, bytes]) -> None:
        for path, data in files.items():
            self.write(base, path, data)


# --- generated configurations ------------------------------------------------

T = TypeVar("T")


class Tape:
    """
    Choices read from bytes that hypothesis draws (one draw per
    configuration, which keeps generation cheap): each choice is the next
    byte modulo the number of options.  When the bytes run out every choice
    is the first option, the simplest one, so shrinking the bytes shrinks
    the configuration.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def below(self, limit: int) -> int:
        if self.position >= len(self.data):
            return 0
        self.position += 1
        return self.data[self.position - 1] % limit

    def choose(self, options: Sequence[T]) -> T:
        return options[self.below(len(options))]

    def repeat(self, limit: int) -> range:
        """
        A number of repetitions, at most C{limit}: each one more is 3 to 1
        likely.
        """
        count = 0
        while count < limit and self.below(4):
            count += 1
        return range(count)

    def bytes(self, limit: int) -> bytes:
        size = self.below(limit + 1)
        chunk = self.data[self.position : self.position + size]
        self.position += size
        return chunk


def wordTable(text: str) -> list[str]:
    """
    The white-space separated words of a table written as text.
    """
    return text.split()


#: Words that mean something somewhere in the language.
WORDS = wordTable(
    """
    yes no UNLIMITED INTERNAL UNLISTED RPC TCPMUX TCPMUXPLUS SENSOR IPv4 IPv6
    NAMEINARGS NORETRY INTERCEPT REUSE KEEPALIVE NODELAY DISABLE NOLIBWRAP LABELED
    stream dgram raw seqpacket tcp udp icmp root nobody alice users nogroup
    /bin/cat /bin/true /etc/motd /nonexistent 127.0.0.1 ::1 0.0.0.0 :: 10.0.0.0/8
    ::ffff:1.2.3.4 192.168.1. 192.168.1.0/33 localhost dual sixonly .example.com
    *.example.com 12:00-13:00 25:00-26:00 13:00-12:00 FILE SYSLOG daemon info auth
    HOST PID DURATION EXIT USERID ATTEMPT TRAFFIC RECORD FOREVER NEVER 1K 2M 9M
    0 -1 1 7 65535 65536 1.5 nan inf -inf 1e999 0x10 0777 022 1-2 2-1 A=B = PATH
    LANG TZ echo discard chargen daytime time tcpmux servers services xadmin
    99999999999999999999999 4294967295 4294967294 +7 -0 0007 1_0 \u0661\u0662
    """
)
ATTRIBUTE_NAMES = sorted(ATTRIBUTES)
BAD_NAMES = [
    *wordTable("foo Port SERVER_ARGS socket-type log_on_succes port=80 # { } include service"),
    "",
]
INDENTS = ["", " ", "\t", "  \t", "\v", "\f", "\r"]
SEPARATORS = [" ", "\t", "", "  ", " \t"]
OPERATORS = ["=", "=", "=", "+=", "-=", "=+", ":=", "+", "-", "==", ""]
OPENINGS = ["{", "{", "{", "{", " {", "{\t", "{\r", None, "{ x", "{{", "{ # open"]
CLOSINGS = ["}", "}", "}", "}", " } ", "}\r", None, "} # end", "}}", "}x", "} x"]
KEYWORDS = ["service", "service", "service", "SERVICE", "defaults", "DEFAULTS", "\tservice"]
SERVICE_NAMES = wordTable(
    """
    echo discard chargen daytime time tcpmux ftp telnet smtp finger pop3 auth ntalk
    rstatd rusersd walld sensor servers services xadmin unknown
    """
)
#: Valid services (without their header) that L{perturbedService} changes.
TEMPLATES = [
    ["type = INTERNAL", "socket_type = stream", "wait = no"],
    ["type = INTERNAL", "socket_type = dgram", "wait = yes", "protocol = udp"],
    ["socket_type = stream", "wait = no", "user = root", "server = /bin/cat", "port = 2000"],
    [
        "type = UNLISTED",
        "socket_type = stream",
        "protocol = tcp",
        "wait = no",
        "user = nobody",
        "server = /bin/true",
        "server_args = -x",
        "port = 3000",
        "only_from = 127.0.0.1",
    ],
    [
        "type = UNLISTED",
        "socket_type = stream",
        "wait = no",
        "port = 4000",
        "redirect = 127.0.0.1 80",
        "user = root",
        "log_on_success = TRAFFIC",
    ],
    [
        "type = RPC",
        "rpc_version = 1-2",
        "socket_type = dgram",
        "protocol = udp",
        "wait = yes",
        "user = root",
        "server = /bin/cat",
    ],
    [
        "type = TCPMUX UNLISTED",
        "socket_type = stream",
        "wait = no",
        "user = root",
        "server = /bin/cat",
    ],
    ["flags = SENSOR", "socket_type = stream", "wait = no", "deny_time = 10", "port = 5000"],
]


STRAY_LINES = ["", "# comment", "  # indented", "\t", "{", "}", "#include b.conf", "\x00"]
INCLUDE_KEYWORDS = ["include", "includedir", "INCLUDE", "IncludeDir", "include\t"]
#: Include targets: files of the tree (the main file too), directories,
#: missing files, devices and /proc files; L{makeSpecials} adds more.
INCLUDE_TARGETS = [
    "xinetd.conf",
    "b.conf",
    "d/one",
    "d/two",
    "./b.conf",
    "d/../b.conf",
    "d",
    "d/sub",
    ".",
    "missing",
    "",
    "/nonexistent/file",
    "/dev/null",
    "/dev/zero",
    "/dev/urandom",
    "/proc/self/status",
    "/proc/self/mem",
    "/proc/self/environ",
]


def token(tape: Tape) -> str:
    """
    One value token (no space, tab or newline): a word of the language, raw
    bytes (control characters, bytes that are not UTF-8), a big number, or
    more digits than C{int()} converts.
    """
    kind = tape.below(8)
    if kind == 5:
        raw = tape.bytes(8).decode("utf-8", "surrogateescape")
        return "".join(c for c in raw if c not in " \t\n") or "x"
    if kind == 6:
        return str(int.from_bytes(tape.bytes(10), "big") - tape.below(2) * 2**79)
    if kind == 7 and tape.below(8) == 0:
        return "1" * (4290 + tape.below(200))
    return tape.choose(WORDS)


def attributeLine(tape: Tape, names: Sequence[str] = ATTRIBUTE_NAMES) -> str:
    """
    A C{name op values} line, right or wrong.
    """
    kind = tape.below(16)
    name = token(tape) if kind == 0 else tape.choose(BAD_NAMES if kind == 1 else names)
    head = tape.choose(INDENTS) + name + tape.choose(SEPARATORS) + tape.choose(OPERATORS)
    line = " ".join([head, *(token(tape) for _ in tape.repeat(4))])
    return f"{line} #{token(tape)}" if tape.below(8) == 0 else line


def entry(tape: Tape) -> list[str]:
    """
    A defaults or service entry, right or wrong.
    """
    name = token(tape) if tape.below(4) == 0 else tape.choose(SERVICE_NAMES)
    header = " ".join([tape.choose(KEYWORDS), name, *(token(tape) for _ in tape.repeat(1))])
    opening = tape.choose(OPENINGS)
    lines = [header, *([] if opening is None else [opening])]
    lines += [attributeLine(tape) for _ in tape.repeat(6)]
    closing = tape.choose(CLOSINGS)
    return lines if closing is None else [*lines, closing]


def perturbedService(tape: Tape) -> list[str]:
    """
    A valid service with a few lines added, replaced or dropped, so that
    the checks behind the grammar (values, fill and check) are reached.
    """
    lines = list(tape.choose(TEMPLATES))
    for _ in tape.repeat(3):
        at = tape.below(len(lines) + 1)
        change = tape.below(3)
        if change == 0 and at < len(lines):
            del lines[at]
        elif change == 1 and at < len(lines):
            lines[at] = attributeLine(tape)
        else:
            lines.insert(at, attributeLine(tape))
    return [f"service {tape.choose(SERVICE_NAMES)}", "{", *lines, "}"]


def item(tape: Tape, targets: Sequence[str]) -> list[str]:
    """
    A top-level item: an entry, an include line, a stray line.
    """
    kind = tape.below(8)
    if kind < 4:
        return perturbedService(tape) if kind % 2 else entry(tape)
    if kind == 4:
        words = [tape.choose(INCLUDE_KEYWORDS), tape.choose(targets)]
        return [" ".join(words + [token(tape) for _ in tape.repeat(1)])]
    if kind == 5:
        return [tape.choose(STRAY_LINES)]
    return [attributeLine(tape)]


def render(lines: Sequence[str], newline: str = "\n", final: bool = True) -> bytes:
    """
    Lines to a file's bytes (lone surrogates back to the bytes they stand
    for).
    """
    text = newline.join(lines) + (newline if final and lines else "")
    return text.encode("utf-8", "surrogateescape")


def configFile(tape: Tape, targets: Sequence[str]) -> bytes:
    lines = [line for _ in tape.repeat(8) for line in item(tape, targets)]
    return render(lines, tape.choose(["\n", "\n", "\r\n"]), tape.below(4) > 0)


SPECIAL_NAMES = ["fifo", "socket", "dangling", "linkdir", "selfloop", "dir", "unreadable"]


def makeSpecials(directory: str) -> list[str]:
    """
    Make, in C{directory}, files that cannot be read as a configuration or
    that might block: a pipe without a writer, a UNIX socket, a dangling
    symbolic link, a link to a directory, a link to itself, a directory,
    and a file without read permission (readable all the same by root).

    @return: their absolute paths.
    """
    paths = [os.path.join(directory, name) for name in SPECIAL_NAMES]
    fifo, sock, dangling, linkdir, selfloop, subdirectory, unreadable = paths
    os.mkfifo(fifo)
    # A socket path is limited to about 108 bytes, and the test directory may
    # be deeper than that: bind in a short directory, then move it in place.
    short = tempfile.mkdtemp(prefix="sk")
    try:
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(os.path.join(short, "s"))
        os.rename(os.path.join(short, "s"), sock)
    finally:
        os.rmdir(short)
    os.symlink("/nonexistent/target", dangling)
    os.mkdir(subdirectory)
    os.symlink(subdirectory, linkdir)
    os.symlink(selfloop, selfloop)
    with open(unreadable, "wb") as f:
        f.write(render(goodService(9)))
    os.chmod(unreadable, 0)
    return paths


TAPES = st.binary(min_size=256, max_size=1024)
GENERATED_FILES = ["xinetd.conf", "b.conf", "d/one", "d/two"]


class GeneratedTests(SoundCase):
    """
    Random mixes of defaults, service, include and includedir entries, valid
    and invalid attribute names, operators and values, braces missing and
    extra, comments, across four files that include each other, themselves
    and the special files.
    """

    def setUp(self) -> None:
        super().setUp()
        specials = os.path.join(self.parent, "specials")
        os.mkdir(specials)
        self.targets = [*INCLUDE_TARGETS, *makeSpecials(specials), specials]

    @timeLimit(300)
    @fuzzing("generated")
    @given(TAPES)
    def test_generated(self, data: bytes) -> None:
        tape = Tape(data)
        contents = {name: configFile(tape, self.targets) for name in GENERATED_FILES}
        note(repr(contents))
        with self.tree() as base:
            self.writeFiles(base, contents)
            os.makedirs(os.path.join(base, "d", "sub"))
            self.assertSound(load(base), base)


GOOD_PORT = 40000


def goodService(number: int) -> list[str]:
    """
    A valid service, C{good-<number>} on port C{GOOD_PORT + number}.
    """
    return [
        "service echo",
        "{",
        "\ttype = INTERNAL UNLISTED",
        f"\tid = good-{number}",
        "\tsocket_type = stream",
        "\twait = no",
        f"\tport = {GOOD_PORT + number}",
        "}",
    ]


def harmlessLine(tape: Tape) -> str:
    """
    A line inside a bad entry that leaves the entries around it alone: it
    cannot close the entry, it is not too long to be read, and it cannot
    name a good service's id or port (which would make a good service a
    duplicate).  Lines that could do any of that are replaced by a comment.
    """
    line = attributeLine(tape, ATTRIBUTE_NAMES)
    if (
        line.strip(WHITESPACE).startswith("}")
        or len(line) > MAX_LINE
        or "good" in line.lower()
        or str(GOOD_PORT // 10) in line
    ):
        return "# replaced"
    return line


def badEntry(tape: Tape) -> list[str]:
    """
    A bad entry that ends with its own closing line: a service entry with
    anything inside (its opening brace may be missing), or stray lines that
    the parser skips up to the closing line.
    """
    if tape.below(4) == 0:
        stray = [harmlessLine(tape) for _ in range(1 + tape.below(3))]
        stray[0] = "x" + stray[0].lstrip(WHITESPACE)
        return [*stray, "}"]
    header = tape.choose(["service", "service bad", "service echo", "service echo {", "Service x"])
    opening = tape.choose(["{", " {", "{ x", "{{", None])
    body = [harmlessLine(tape) for _ in tape.repeat(6)]
    closing = tape.choose(["}", " }", "}\r", "} # end"])
    return [header, *([] if opening is None else [opening]), *body, closing]


class GoodServicesSurviveTests(SoundCase):
    """
    A bad service is skipped and reported; the good services around it are
    loaded.
    """

    @timeLimit(300)
    @fuzzing("goodServicesSurvive")
    @given(TAPES, st.integers(2, 6))
    def test_goodServicesSurvive(self, data: bytes, count: int) -> None:
        tape = Tape(data)
        lines: list[str] = []
        headers = {}
        for number in range(count):
            for _ in tape.repeat(3):
                lines += badEntry(tape)
            headers[f"good-{number}"] = (GOOD_PORT + number, len(lines) + 1)
            lines += goodService(number)
        note("\n".join(lines))
        with self.tree() as base:
            self.write(base, "xinetd.conf", render(lines))
            config = load(base)
            self.assertSound(config, base)
            loaded = {
                s.id: (s.port, s.location.line) for s in config.services if s.id.startswith("good-")
            }
            self.assertEqual(loaded, headers)
            self.assertFalse(config.isFatal)


# --- mutated real configurations ------------------------------------------


def readSeed(path: str) -> bytes:
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def splitDemo() -> dict[str, bytes]:
    """
    etc/demo.conf with its defaults in the main file and each service in a
    file of its own in C{d/}, read by C{includedir}.
    """
    text = readSeed("etc/demo.conf").decode()
    parts = [part for part in re.split(r"\n(?=service |defaults)", text) if part.strip()]
    files = {"xinetd.conf": (parts[0] + "\n" + parts[1] + "\nincludedir d\n").encode()}
    for part in parts[2:]:
        name = re.search(r"id\s*=\s*(\S+)", part)
        assert name is not None
        files[f"d/{name.group(1)}"] = part.encode()
    return files


def seeds() -> list[tuple[str, dict[str, bytes]]]:
    """
    The real configurations mutated: etc/xinetd.conf with etc/xinetd.d,
    etc/demo.conf (whole and split in files), and the seed examples.
    """
    found = [
        (
            "etc/xinetd.conf",
            {
                f"etc/{name}": readSeed(f"etc/{name}")
                for name in ["xinetd.conf"]
                + [f"xinetd.d/{n}" for n in sorted(os.listdir(os.path.join(ROOT, "etc/xinetd.d")))]
            },
        ),
        ("demo.conf", {"demo.conf": readSeed("etc/demo.conf")}),
        ("xinetd.conf", splitDemo()),
    ]
    directory = os.path.join(ROOT, "tests", "data", "seeds")
    for name in sorted(os.listdir(directory)):
        found.append((name, {name: readSeed(f"tests/data/seeds/{name}")}))
    return found


SEEDS = seeds()
INSERTIONS = [
    *[bytes([b]) for b in [0, 1, 7, 9, 10, 11, 12, 13, 27, 32, 127, 128, 192, 254, 255]],
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b"\xf4\x90\x80\x80",
    "\u2028".encode(),
    b"\r\n",
    b"{",
    b"}",
    b"#",
    b"=",
    b"+=",
    b"-=",
    b"\n}\n",
    b"\n{\n",
    b"\n} # x\n",
    b"\ninclude xinetd.conf\n",
    b"\ninclude demo.conf\n",
    b"\nincludedir .\n",
    b"\nincludedir d\n",
    b"\nservice x\n",
    b"\ndefaults\n",
    b" = ",
    b"UNLIMITED",
    b"1" * 4400,
]


@dataclass(frozen=True)
class Mutation:
    """
    One change to a file's bytes at C{position} (taken modulo the length).
    """

    kind: str
    position: int
    length: int
    insertion: bytes
    mask: int
    file: int

    def apply(self, data: bytes) -> bytes:
        at = self.position % (len(data) + 1)
        end = at + self.length
        if self.kind == "flip" and at < len(data):
            return data[:at] + bytes([data[at] ^ self.mask]) + data[at + 1 :]
        if self.kind == "delete":
            return data[:at] + data[end:]
        if self.kind == "duplicate":
            return data[:end] + data[at:end] * (1 + self.mask % 8) + data[end:]
        if self.kind == "truncate":
            return data[:at]
        if self.kind == "move":
            rest = data[:at] + data[end:]
            to = self.mask * 257 % (len(rest) + 1)
            return rest[:to] + data[at:end] + rest[to:]
        return data[:at] + self.insertion + data[at:]


MUTATION_KINDS = ["flip", "flip", "delete", "duplicate", "insert", "insert", "truncate", "move"]
MUTATIONS = st.builds(
    Mutation,
    st.sampled_from(MUTATION_KINDS),
    st.integers(0, 2**16),
    st.integers(1, 64),
    st.sampled_from(INSERTIONS),
    st.integers(1, 255),
    st.integers(0, 255),
)


def mutate(
    files: dict[str, bytes], mutations: Sequence[Mutation]
) -> tuple[dict[str, bytes], set[str]]:
    """
    @return: the mutated files, and the paths of those that changed.
    """
    files = dict(files)
    names = sorted(files)
    changed = set()
    for mutation in mutations:
        name = names[mutation.file % len(names)]
        files[name] = mutation.apply(files[name])
        changed.add(name)
    return files, changed


class MutatedTests(SoundCase):
    """
    The real configurations with bytes flipped, deleted, duplicated, moved
    and inserted (NUL, control characters, bytes that are not UTF-8, braces,
    operators, include lines).
    """

    @timeLimit(300)
    @fuzzing("mutated")
    @given(st.sampled_from(SEEDS), st.lists(MUTATIONS, min_size=1, max_size=8))
    def test_mutated(self, seed: tuple[str, dict[str, bytes]], mutations: list[Mutation]) -> None:
        main, original = seed
        mutated, changed = mutate(original, mutations)
        with self.tree() as base:
            self.writeFiles(base, mutated)
            config = load(base, main)
            self.assertSound(config, base)
            if main == "xinetd.conf" and "xinetd.conf" not in changed:
                self.assertUntouchedLoaded(config, original, mutated, changed)

    def assertUntouchedLoaded(
        self,
        config: Config,
        original: dict[str, bytes],
        mutated: dict[str, bytes],
        changed: set[str],
    ) -> None:
        """
        The service of every file that was not mutated is loaded, unless a
        mutated file now has a defaults entry, or the service is reported
        as a duplicate of a mutated one.
        """
        if any(b"defaults" in mutated[name].lower() for name in changed):
            return
        located = {(s.location.path, s.id) for s in config.services}
        duplicates = {
            d.location.path
            for d in config.diagnostics
            if d.location is not None
            and ("is a duplicate" in d.message or "is unique but its identical" in d.message)
        }
        for name in sorted(set(original) - changed - {"xinetd.conf"}):
            serviceId = name.split("/")[-1]
            self.assertTrue((name, serviceId) in located or name in duplicates, name)


# --- garbage, huge lines, huge files ------------------------------------------


class GarbageTests(SoundCase):
    """
    Binary garbage as the main file and as an included file between good
    services.
    """

    @timeLimit(300)
    @fuzzing("garbage")
    @given(st.binary(max_size=4096), st.booleans())
    def test_garbage(self, garbage: bytes, included: bool) -> None:
        with self.tree() as base:
            if not included:
                self.write(base, "xinetd.conf", garbage)
                self.assertSound(load(base), base)
                return
            self.write(base, "garbage", garbage)
            main = [*goodService(0), "include garbage", *goodService(1)]
            self.write(base, "xinetd.conf", render(main))
            config = load(base)
            self.assertSound(config, base)
            if b"defaults" not in garbage.lower():
                ids = [s.id for s in config.services if s.id.startswith("good-")]
                self.assertEqual(ids, ["good-0", "good-1"])

    @timeLimit(120)
    @fuzzing("hugeGarbage", deadline=60)
    @given(st.integers(0, 2**32), st.sampled_from([b"}\n", b"x\n", b"\n", b"{\n"]))
    def test_hugeGarbage(self, seed: int, pattern: bytes) -> None:
        """
        Megabytes of garbage between two good services: the garbage is
        reported (at most L{MAX_DIAGNOSTICS} diagnostics and a summary), the
        good services are loaded.
        """
        size = (15 if SOAK else 1) * 1024 * 1024
        garbage = pattern * (size // 2 // len(pattern)) + random.Random(seed).randbytes(size // 2)
        with self.tree() as base:
            self.write(base, "garbage", garbage.replace(b"defaults", b"xxxxxxxx"))
            self.write(
                base,
                "xinetd.conf",
                render([*goodService(0), "include garbage", *goodService(1)]),
            )
            config = load(base)
            self.assertSound(config, base)
            ids = [s.id for s in config.services if s.id.startswith("good-")]
            self.assertEqual(ids, ["good-0", "good-1"])
            self.assertLessEqual(len(config.diagnostics), MAX_DIAGNOSTICS + 1)

    @timeLimit(120)
    @fuzzing("hugeLines", deadline=30)
    @given(
        st.integers(1024 * 1024, 10 * 1024 * 1024),
        st.binary(min_size=1, max_size=16).map(lambda b: b.replace(b"\n", b" ")),
        st.sampled_from(["attribute", "comment", "blank", "file"]),
    )
    def test_hugeLines(self, size: int, chunk: bytes, kind: str) -> None:
        """
        A line of 1 to 10 MB is reported at its line: an attribute loses
        its service, a line outside any entry is ignored, a comment or blank
        line is read as one.
        """
        body = (chunk * (size // len(chunk) + 1))[:size]
        huge = {
            "attribute": b"\tserver_args = " + body,
            "comment": b"# " + body,
            "blank": b" \t" * (size // 2),
            "file": body,
        }[kind]
        with self.tree() as base:
            if kind == "file":
                self.write(base, "xinetd.conf", huge)
                config = load(base)
                self.assertSound(config, base)
                # A comment or a blank line of any length is read as one.
                stripped = body.lstrip(WHITESPACE.encode())
                quiet = stripped == b"" or stripped.startswith(b"#")
                ignored = [] if quiet else [TOO_LONG.format(1) + "; ignored"]
                self.assertEqual([str(d) for d in config.diagnostics], ignored)
                return
            lines = [line.encode() for line in goodService(0)]
            self.write(base, "xinetd.conf", b"\n".join([*lines[:3], huge, *lines[3:]]))
            config = load(base)
            self.assertSound(config, base)
            if kind == "attribute":
                self.assertEqual([str(d) for d in config.diagnostics], [TOO_LONG.format(4)])
                self.assertEqual(config.services, ())
            else:
                self.assertEqual([str(d) for d in config.diagnostics], [])
                self.assertEqual([s.id for s in config.services], ["good-0"])

    @timeLimit(120)
    @fuzzing("manyServices", deadline=60)
    @given(st.integers(1000, 20000 if SOAK else 5000), st.integers(0, 2**32))
    def test_manyServices(self, count: int, seed: int) -> None:
        """
        Thousands of services, a bad one now and then: every good one is
        loaded, every bad one reported.
        """
        rng = random.Random(seed)
        lines = []
        bad = set()
        for number in range(count):
            if rng.random() < 0.1:
                bad.add(number)
                lines += ["service echo", "{", f"\tport = {rng.choice(WORDS)}x", "}"]
            else:
                lines += goodService(number)
        with self.tree() as base:
            self.write(base, "xinetd.conf", render(lines))
            config = load(base)
            self.assertSound(config, base)
            self.assertEqual(len(config.services), count - len(bad))
            self.assertEqual(
                len([d for d in config.diagnostics if d.message == "port number is invalid"]),
                len(bad),
            )


TOO_LONG = f"xinetd.conf:{{}}: error: line longer than {MAX_LINE} characters"


# --- include loops and chains -------------------------------------------------

#: The directories of the include graphs; the main file is at the top.
GRAPH_DIRECTORIES = ["a", "b"]


@dataclass(frozen=True)
class IncludeGraph:
    """
    Files that include each other: file 0 is the main file C{xinetd.conf},
    file I{i} is C{<directory>/f<i>} and holds the service C{good-<i>}.

    @ivar directories: the directory of each file but the main one.
    @ivar directives: per file, its C{(include, file number)} and
        C{(includedir, directory)} lines, with how the path is spelled.
    """

    directories: tuple[str, ...]
    directives: tuple[tuple[tuple[str, Any, int], ...], ...]

    def path(self, number: int) -> str:
        return "xinetd.conf" if number == 0 else f"{self.directories[number - 1]}/f{number}"

    def targets(self, number: int) -> list[int]:
        """
        The files that file C{number} includes, in order.
        """
        found = []
        for keyword, target, _ in self.directives[number]:
            if keyword == "include":
                found.append(target)
            else:
                found += sorted(
                    (
                        n
                        for n in range(1, len(self.directives))
                        if self.directories[n - 1] == target
                    ),
                    key=lambda n: self.path(n).encode(),
                )
        return found

    def reachable(self) -> set[int]:
        seen, todo = {0}, [0]
        while todo:
            for target in self.targets(todo.pop()):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    def hasLoop(self) -> bool:
        """
        Whether a file reachable from the main file includes itself,
        directly or not.
        """

        def loops(number: int, stack: tuple[int, ...]) -> bool:
            return any(
                target in stack or loops(target, (*stack, target))
                for target in self.targets(number)
            )

        return loops(0, (0,))

    def render(self, number: int, base: str) -> bytes:
        lines = goodService(number)
        for keyword, target, spelling in self.directives[number]:
            path = self.path(target) if keyword == "include" else target
            lines.append(f"{keyword} {spell(path, spelling, base)}")
        return render(lines)


def spell(path: str, spelling: int, base: str) -> str:
    """
    One of several ways to write the same path.
    """
    return [path, f"./{path}", f"{base}/{path}", f"a/../{path}", f"{path}/"][spelling]


@st.composite
def includeGraphs(draw: st.DrawFn) -> IncludeGraph:
    """
    Up to five files with up to three include or includedir lines each
    (few enough that every path through them is read within L{MAX_FILES}).
    """
    count = draw(st.integers(1, 5))
    directories = tuple(
        draw(st.lists(st.sampled_from(GRAPH_DIRECTORIES), min_size=count - 1, max_size=count - 1))
    )
    directive = st.one_of(
        st.tuples(st.just("include"), st.integers(0, count - 1), st.integers(0, 3)),
        st.tuples(st.just("includedir"), st.sampled_from(GRAPH_DIRECTORIES), st.integers(0, 4)),
    )
    directives = tuple(tuple(draw(st.lists(directive, max_size=3))) for _ in range(count))
    return IncludeGraph(directories, directives)


class IncludeGraphTests(SoundCase):
    """
    Include and includedir lines in any pattern: loops (a file including
    itself, A->B->A, includedir of the including file's own directory),
    diamonds, paths spelled differently.  Every file reachable from the main
    file is read, a loop is reported as one, nothing else is.
    """

    @timeLimit(300)
    @fuzzing("includeGraphs")
    @given(includeGraphs())
    def test_includeGraphs(self, graph: IncludeGraph) -> None:
        with self.tree() as base:
            for directory in GRAPH_DIRECTORIES:
                os.mkdir(os.path.join(base, directory))
            for number in range(len(graph.directives)):
                self.write(base, graph.path(number), graph.render(number, base))
            config = load(base)
            self.assertSound(config, base)
            self.assertEqual(
                {s.id for s in config.services}, {f"good-{n}" for n in graph.reachable()}
            )
            loops = [d for d in config.diagnostics if d.message.endswith("(include loop)")]
            self.assertEqual(bool(loops), graph.hasLoop())
            unexpected = [
                d
                for d in config.errors
                if not d.message.endswith("(include loop)") and "DISABLING" not in d.message
            ]
            self.assertEqual(unexpected, [])


def chain(files: int, copies: int = 1) -> dict[str, bytes]:
    """
    C{files} files, each including the next one C{copies} times.
    """
    return {
        f"c{number}": render(
            [*goodService(number), *[f"include c{number + 1}"] * copies]
            if number + 1 < files
            else goodService(number)
        )
        for number in range(files)
    }


class IncludeLimitTests(SoundCase):
    """
    The limits that bound what include lines can make txinetd read.
    """

    def loadFiles(self, files: dict[str, bytes], main: str = "xinetd.conf") -> Config:
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        self.writeFiles(base, files)
        config = load(base, main)
        self.assertSound(config, base)
        return config

    def test_includeItself(self) -> None:
        """
        A file that includes itself, once or several times, is read once
        and each include line is reported as a loop.
        """
        config = self.loadFiles(
            {"xinetd.conf": render([*goodService(0), *["include xinetd.conf"] * 3])}
        )
        self.assertEqual([s.id for s in config.services], ["good-0"])
        self.assertEqual(
            [str(d) for d in config.diagnostics],
            [
                f"xinetd.conf:{line}: error: Unable to open included configuration file: "
                "xinetd.conf (include loop)"
                for line in (9, 10, 11)
            ],
        )

    def test_includeEachOther(self) -> None:
        """
        A includes B which includes A: both are read once.
        """
        config = self.loadFiles(
            {
                "xinetd.conf": render([*goodService(0), "include b"]),
                "b": render([*goodService(1), "include ./xinetd.conf"]),
            }
        )
        self.assertEqual([s.id for s in config.services], ["good-0", "good-1"])
        self.assertEqual(
            [str(d) for d in config.diagnostics],
            [
                "b:9: error: Unable to open included configuration file: ./xinetd.conf "
                "(include loop)"
            ],
        )

    def test_includedirOfItsOwnDirectory(self) -> None:
        """
        A file in a directory that it includes with includedir: the other
        files are read, the including file is a loop.
        """
        config = self.loadFiles(
            {
                "xinetd.conf": b"includedir d\n",
                "d/a": render(goodService(0)),
                "d/b": render([*goodService(1), "includedir d"]),
                "d/c": render(goodService(2)),
            }
        )
        self.assertEqual([s.id for s in config.services], ["good-0", "good-1", "good-2"])
        self.assertEqual(
            [str(d) for d in config.errors if "DISABLING" not in d.message],
            ["d/b:9: error: Unable to open included configuration file: d/b (include loop)"],
        )

    def test_deepChain(self) -> None:
        """
        A chain of 40 different files is read to L{MAX_INCLUDE_DEPTH}
        levels below the main file.
        """
        config = self.loadFiles(chain(40), "c0")
        self.assertEqual(len(config.services), MAX_INCLUDE_DEPTH + 1)
        self.assertEqual(
            [str(d) for d in config.diagnostics],
            [
                f"c{MAX_INCLUDE_DEPTH}:9: error: Unable to open included configuration file: "
                f"c{MAX_INCLUDE_DEPTH + 1} (includes nested deeper than {MAX_INCLUDE_DEPTH})"
            ],
        )

    @pytest.mark.timeout(60)
    def test_exponentialIncludes(self) -> None:
        """
        Files that include the next one three times, 14 levels deep, would
        be read millions of times: reading stops after L{MAX_FILES} files.
        """
        config = self.loadFiles(chain(15, copies=3), "c0")
        limit = [
            d
            for d in config.diagnostics
            if d.message.endswith(f"(more than {MAX_FILES} files read)")
        ]
        self.assertTrue(limit)
        read = len(config.services) + sum(
            1 for d in config.diagnostics if "not unique or is a duplicate" in d.message
        )
        self.assertEqual(read, MAX_FILES)

    @pytest.mark.timeout(60)
    def test_tooLarge(self) -> None:
        """
        Reading stops after L{MAX_SIZE} bytes in all: a bigger main file is
        fatal, a bigger included file is an error at its include line.
        """
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        with open(os.path.join(base, "big"), "wb") as f:
            f.truncate(MAX_SIZE + 1)
        self.write(base, "xinetd.conf", render([*goodService(0), "include big"]))
        self.assertEqual(
            [str(d) for d in load(base, "big").diagnostics],
            [f"fatal: open( big ) failed: configuration larger than {MAX_SIZE} bytes"],
        )
        config = load(base)
        self.assertEqual([s.id for s in config.services], ["good-0"])
        self.assertEqual(
            [str(d) for d in config.diagnostics],
            [
                "xinetd.conf:9: error: Unable to open included configuration file: big "
                f"(configuration larger than {MAX_SIZE} bytes)"
            ],
        )

    def test_tooManyDiagnostics(self) -> None:
        """
        After L{MAX_DIAGNOSTICS} diagnostics the others are counted in a
        last one, at the place of the first of them, as bad as the worst.
        """
        strays = ["}"] * 2 * (MAX_DIAGNOSTICS + 5)
        lines = [*goodService(0), *strays, "defaults", "{", "instances = lots", "}"]
        config = self.loadFiles({"xinetd.conf": render(lines)})
        self.assertEqual(len(config.diagnostics), MAX_DIAGNOSTICS + 1)
        self.assertEqual(
            str(config.diagnostics[-1]),
            f"xinetd.conf:{9 + 2 * MAX_DIAGNOSTICS}: fatal: 7 more problems from here on are "
            "not reported",
        )
        self.assertTrue(config.isFatal)
        self.assertEqual([s.id for s in config.services], ["good-0"])


# --- files that cannot be read ------------------------------------------------


class UnreadableTests(SoundCase):
    """
    Include targets (and main files) that are not regular files, cannot be
    read, or would block or never end.
    """

    def setUp(self) -> None:
        super().setUp()
        self.base = os.path.join(self.parent, "tree")
        self.specials = os.path.join(self.parent, "specials")
        os.makedirs(self.base)
        os.mkdir(self.specials)
        makeSpecials(self.specials)

    def loadIncluding(self, *targets: str, keyword: str = "include") -> Config:
        """
        Load a main file that includes C{targets} between two good services.
        """
        lines = [*goodService(0), *[f"{keyword} {target}" for target in targets], *goodService(1)]
        self.write(self.base, "xinetd.conf", render(lines))
        config = load(self.base)
        self.assertSound(config, self.base)
        loaded = [s.id for s in config.services]
        self.assertEqual([loaded[0], loaded[-1]], ["good-0", "good-1"])
        return config

    def assertIncludeErrors(self, config: Config, *expected: str) -> None:
        self.assertEqual(
            [str(d) for d in config.diagnostics],
            [
                f"xinetd.conf:{9 + number}: error: Unable to open included configuration "
                f"file: {text}"
                for number, text in enumerate(expected)
            ],
        )

    def special(self, name: str) -> str:
        return os.path.join(self.specials, name)

    @pytest.mark.timeout(30)
    def test_pipeWithoutWriter(self) -> None:
        """
        A named pipe that no one writes to reads as an empty file instead of
        blocking, included or as the main file; includedir skips it.
        """
        fifo = self.special("fifo")
        config = self.loadIncluding(fifo)
        self.assertEqual(config.diagnostics, ())
        config = self.loadIncluding(self.specials, keyword="includedir")
        self.assertIn(
            f"xinetd.conf:9: error: {fifo} is not a regular file. It is being skipped.",
            [str(d) for d in config.diagnostics],
        )
        config = load(self.base, fifo)
        self.assertEqual((config.services, config.diagnostics), ((), ()))

    @pytest.mark.timeout(30)
    def test_pipeWithWriter(self) -> None:
        """
        A pipe whose writer has written and closed (as with the shell's
        C{<(...)}) is read to its end.
        """
        readEnd, writeEnd = os.pipe()
        self.addCleanup(os.close, readEnd)
        os.write(writeEnd, render(goodService(5)))
        os.close(writeEnd)
        config = load(self.base, f"/proc/self/fd/{readEnd}")
        self.assertEqual([s.id for s in config.services], ["good-5"])

    def test_devices(self) -> None:
        """
        Devices are not read: C{/dev/zero} would never end.
        """
        config = self.loadIncluding("/dev/zero", "/dev/urandom", "/dev/null")
        self.assertIncludeErrors(
            config,
            "/dev/zero (not a regular file)",
            "/dev/urandom (not a regular file)",
            "/dev/null (not a regular file)",
        )
        self.assertEqual(
            [str(d) for d in load(self.base, "/dev/zero").diagnostics],
            ["fatal: open( /dev/zero ) failed: not a regular file"],
        )

    def test_readFails(self) -> None:
        """
        Files that open but cannot be read (even by root): C{/proc/self/mem}
        fails with EIO; a UNIX socket cannot be opened.
        """
        config = self.loadIncluding("/proc/self/mem", self.special("socket"))
        self.assertIncludeErrors(
            config,
            "/proc/self/mem: Input/output error (errno = 5)",
            self.special("socket") + ": No such device or address (errno = 6)",
        )
        self.assertEqual(
            [str(d) for d in load(self.base, "/proc/self/mem").diagnostics],
            ["fatal: open( /proc/self/mem ) failed: Input/output error (errno = 5)"],
        )

    def test_nulInName(self) -> None:
        """
        An include or includedir whose name holds a NUL byte (no file name
        can) is reported like a file that cannot be opened, and the rest
        loads (it raised an exception out of the parser).
        """
        lines = [*goodService(0), "include a\x00b", "includedir d\x00e"]
        with self.tree() as base:
            self.write(base, "xinetd.conf", render(lines))
            config = load(base)
            self.assertSound(config, base)
        self.assertEqual(
            [str(d) for d in config.diagnostics],
            [
                "xinetd.conf:9: error: Unable to open included configuration file: a\x00b "
                "(a NUL byte in the name)",
                "xinetd.conf:10: error: Unable to read included directory: d\x00e "
                "(a NUL byte in the name)",
            ],
        )
        self.assertEqual([s.id for s in config.services], ["good-0"])

    def test_procFile(self) -> None:
        """
        A /proc file is read like any file: its lines are reported.
        """
        config = self.loadIncluding("/proc/self/status")
        self.assertEqual(
            [str(d) for d in config.diagnostics][:1],
            ["/proc/self/status:1: error: missing service keyword"],
        )

    def test_unreadableFile(self) -> None:
        """
        A file without read permission cannot be included, unless txinetd
        runs as root (which reads it).
        """
        config = self.loadIncluding(self.special("unreadable"))
        if os.geteuid() == 0:
            self.assertEqual([s.id for s in config.services], ["good-0", "good-9", "good-1"])
            self.assertEqual(config.diagnostics, ())
        else:
            self.assertIncludeErrors(
                config, self.special("unreadable") + ": Permission denied (errno = 13)"
            )

    def test_directoriesAndLinks(self) -> None:
        """
        A directory, a link to one, a dangling link and a link to itself
        cannot be included; a directory as the main file is fatal.
        """
        names = ["dir", "linkdir", "dangling", "selfloop"]
        config = self.loadIncluding(*[self.special(name) for name in names])
        errors = [
            "Is a directory (errno = 21)",
            "Is a directory (errno = 21)",
            "No such file or directory (errno = 2)",
            "Too many levels of symbolic links (errno = 40)",
        ]
        self.assertIncludeErrors(
            config,
            *[f"{self.special(name)}: {error}" for name, error in zip(names, errors, strict=True)],
        )
        self.assertEqual(
            [str(d) for d in load(self.base, self.special("linkdir")).diagnostics],
            [f"fatal: open( {self.special('linkdir')} ) failed: Is a directory (errno = 21)"],
        )

    def test_includedirThroughLink(self) -> None:
        """
        includedir follows a link to a directory; the special files in a
        directory are skipped, each with an error.
        """
        self.write(self.specials, "dir/inside", render(goodService(7)))
        config = self.loadIncluding(self.special("linkdir"), keyword="includedir")
        self.assertEqual([s.id for s in config.services], ["good-0", "good-7", "good-1"])
        config = self.loadIncluding(self.specials, keyword="includedir")
        unreadable = [] if os.geteuid() == 0 else [UNREADABLE.format(self.special("unreadable"))]
        self.assertEqual(
            sorted(str(d) for d in config.diagnostics),
            sorted(
                f"xinetd.conf:9: error: {message}"
                for message in [
                    f"Unable to stat includedir file {self.special('dangling')}: "
                    "No such file or directory (errno = 2)",
                    f"{self.special('dir')} is not a regular file. It is being skipped.",
                    f"{self.special('fifo')} is not a regular file. It is being skipped.",
                    f"{self.special('linkdir')} is not a regular file. It is being skipped.",
                    f"Unable to stat includedir file {self.special('selfloop')}: "
                    "Too many levels of symbolic links (errno = 40)",
                    f"{self.special('socket')} is not a regular file. It is being skipped.",
                    *unreadable,
                ]
            ),
        )


UNREADABLE = "Unable to open included configuration file: {}: Permission denied (errno = 13)"


# --- what the fuzzing found ---------------------------------------------------


class FoundTests(SoundCase):
    """
    The bugs the fuzzing found and that are fixed, as plain examples.
    """

    def loadService(self, *lines: str) -> Config:
        """
        Load the service C{good-0} with C{lines} added.
        """
        self.write(self.parent, "xinetd.conf", render([*goodService(0)[:-1], *lines, "}"]))
        config = load(self.parent)
        self.assertSound(config, self.parent)
        return config

    def test_disableWithoutValue(self) -> None:
        """
        C{disable} with no value, or with C{+=}, is warned about and does
        not disable the service (loading raised KeyError).
        """
        for line, warning in [
            ("disable = # off", "attribute disable expects 1 values and 0 values were specified"),
            (
                "disable += yes",
                "Service echo: operator '+=' cannot be used for attribute 'disable'",
            ),
        ]:
            config = self.loadService(line)
            self.assertEqual([s.id for s in config.services], ["good-0"])
            self.assertIn(
                f"xinetd.conf:8: warning: {warning}", [str(d) for d in config.diagnostics]
            )

    def test_idWithThousandsOfDigits(self) -> None:
        """
        A numeric user or group of more digits than C{int()} converts is
        checked like any number (loading raised ValueError).
        """
        digits = "1" * 5000
        config = self.loadService(f"user = {digits}")
        self.assertEqual(
            [str(d) for d in config.diagnostics][:1],
            [f"xinetd.conf:8: error: Error parsing user as a number: {digits}"],
        )
        config = self.loadService(f"group = {'0' * 5000}7")
        self.assertEqual(config.services[0].group, GroupSpec("0" * 5000 + "7", 7))

    def test_bytesNotUtf8InDiagnostics(self) -> None:
        """
        A diagnostic's text shows bytes that are not UTF-8 as C{\\xNN}, so
        that it can be written to any output (writing it raised
        UnicodeEncodeError on a strict UTF-8 stream).
        """
        config = self.loadService("log_on_success = H\udcffOST")
        self.assertEqual(
            str(config.diagnostics[0]),
            "xinetd.conf:8: error: Bad log_on_success flag: H\\xffOST (did you mean HOST?)",
        )


# --- known bugs elsewhere ---------------------------------------------------


class DigitLimitTests(TestCase):
    """
    Numbers of thousands of digits (more than Python converts) and service
    ids that are not UTF-8, which the fuzzing found.
    """

    def loadService(self, *lines: str) -> Config:
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        with open(os.path.join(base, "xinetd.conf"), "wb") as f:
            f.write(render([*goodService(0)[:-1], *lines, "}"]))
        return loadConfig(
            "xinetd.conf",
            system=FakeSystem(),
            internalServices=fakeInternalServices(),
            baseDirectory=base,
            euid=0,
        )

    def test_addressWithThousandsOfDigits(self) -> None:
        """
        An only_from value of thousands of digits is no address: it is
        dropped with a warning, like any value that is no address form.
        """
        digits = "1" * 5000
        config = self.loadService(f"only_from = {digits} 10.{digits}.0.0/8 1.2.{{{digits}}}")
        self.assertEqual(
            [str(d) for d in config.diagnostics][:1],
            [f"xinetd.conf:8: warning: failed to parse {digits}"],
        )

    def test_accessTimesWithThousandsOfDigits(self) -> None:
        """
        An access_times hour of thousands of digits is an invalid interval.
        """
        config = self.loadService(f"access_times = {'1' * 5000}:00-12:00")
        self.assertEqual(
            [str(d) for d in config.diagnostics][:1],
            ["xinetd.conf:8: error: invalid time interval"],
        )

    def test_checkListsServiceWithBytesNotUtf8(self) -> None:
        """
        C{--check} lists a valid service whose id has bytes that are not
        UTF-8, whatever the encoding of its output.
        """
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        path = os.path.join(directory, "xinetd.conf")
        with open(path, "wb") as f:
            f.write(render(goodService(0)).replace(b"good-0", b"good-\xff"))
        out, code = runCheck(path)
        self.assertNotIn("Traceback", out)
        self.assertIn("service good-\\xff: tcp stream nowait internal on :: port 40000", out)
        self.assertEqual(code, 0)


# --- the real twistd ----------------------------------------------------------


def fuzzedFiles(directory: str) -> list[str]:
    """
    A few fuzzed configurations, made from fixed seeds: binary garbage,
    etc/demo.conf mutated, a generated mix that includes itself, a pipe and
    C{/dev/zero}, and a huge line in a service followed by the file itself
    and a pipe included.

    @return: their paths.
    """
    rng = random.Random(9)
    paths = {name: os.path.join(directory, name) for name in ["garbage", "mutated", "mix", "huge"]}
    fifo = os.path.join(directory, "fifo")
    os.mkfifo(fifo)
    mutations = [
        Mutation(
            rng.choice(MUTATION_KINDS), rng.randrange(2**16), 8, rng.choice(INSERTIONS), 255, 0
        )
        for _ in range(12)
    ]
    targets = [paths["mix"], fifo, "/dev/zero"]
    contents = {
        "garbage": rng.randbytes(4096),
        "mutated": mutate({"demo": readSeed("etc/demo.conf")}, mutations)[0]["demo"],
        "mix": b"".join(configFile(Tape(rng.randbytes(1024)), targets) for _ in range(8)),
        "huge": render(
            [
                *goodService(0)[:3],
                "server_args = " + "x" * 2_000_000,
                "}",
                f"include {paths['huge']}",
                f"include {fifo}",
                "{",
            ]
        ),
    }
    for name, path in paths.items():
        with open(path, "wb") as f:
            f.write(contents[name])
    return list(paths.values())


def startCheck(path: str) -> subprocess.Popen[bytes]:
    """
    Start C{twistd -n xinetd --check -f path} with a strict UTF-8 standard
    output.
    """
    return subprocess.Popen(
        [TWISTD, "-n", "--pidfile=", "xinetd", "--check", "-f", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=os.path.dirname(path),
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


def finishCheck(process: subprocess.Popen[bytes]) -> tuple[str, int]:
    """
    @return: the output of a check started by L{startCheck}, and its exit
        status.
    """
    out, _ = process.communicate(timeout=90)
    return out.decode("utf-8"), process.returncode


def runCheck(path: str) -> tuple[str, int]:
    return finishCheck(startCheck(path))


class TwistdCheckTests(SoundCase):
    """
    C{twistd -n xinetd --check -f <fuzzed file>}: exit status 1, C{path:line}
    messages, never a traceback, even with a strict UTF-8 standard output.
    """

    @pytest.mark.timeout(120)
    def test_check(self) -> None:
        paths = fuzzedFiles(self.parent)
        processes = [startCheck(path) for path in paths]
        for path, process in zip(paths, processes, strict=True):
            text, code = finishCheck(process)
            self.assertNotIn("Traceback", text, path)
            self.assertEqual(code, 1, text[-2000:])
            located = re.compile(f"^{re.escape(path)}:[0-9]+: (error|warning|fatal): ", re.M)
            self.assertRegex(text, located)
