# -*- test-case-name: tests.test_log_injection -*-
"""
Nothing a peer controls can split a log record or reach a terminal raw:
ident replies (the C{USERID} text and the reply of a C{Bad line} report),
reverse names, client addresses, and, from the configuration, service ids,
service names and banner files and paths.

Each test drives the real admission path (L{Admission}) with
generated text and reads back the bytes the real log targets wrote: a FILE
service log and a FILE program log in a temporary directory, and syslog
datagrams on a UNIX datagram socket the test binds.  Every record must be
exactly one line (one datagram) of valid UTF-8 with no control character
(C0, DEL, C1, U+2028, U+2029): no CR or LF to forge a line, no ESC or CSI
to drive a terminal that shows the log.

One test runs a real ident server on 127.0.0.1 that answers with a forged
C{FAIL} line, against an in-process daemon on the real reactor.

C{TXINETD_SOAK=1} runs L{tests.soak.SOAK_FACTOR} times as many examples.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from typing import Any, cast

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet import error
from twisted.internet.defer import Deferred, inlineCallbacks, succeed
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.integration.support import loadText, pollUntil, portNumber, reactor, tcpExchange
from tests.serve.test_admission import CLIENT, AdmissionTestCase, FakeConnection
from tests.soak import fuzzed
from txinetd.core.config import ServiceConfig
from txinetd.core.events import Level
from txinetd.core.libwrap import HostsAccess, parseHostsTable
from txinetd.core.logformat import Facility, SyslogLevel
from txinetd.daemon.logtargets import FileLogTarget, SyslogTarget
from txinetd.daemon.machine import onThisMachine
from txinetd.daemon.programlog import ProgramLogObserver
from txinetd.daemon.service import ListeningService
from txinetd.daemon.tree import XinetdService
from txinetd.net.acceptor import PendingConnection
from txinetd.serve.admission import Admission
from txinetd.serve.ident import MAX_TEXT, NoId, UserId
from txinetd.serve.lookups import FixedHosts
from txinetd.serve.session import Session
from txinetd.serve.shared import Shared

PID = 4242
START = f"START: svc pid=0 from={CLIENT}"
EXIT = "EXIT: svc status=0 pid=0 duration=0(sec)"
#: A FILE log timestamp.
STAMP = r"\d\d/\d{1,2}/\d{1,2}@\d\d:\d\d:\d\d"
#: A syslog datagram's head: priority, timestamp, ident and pid.
SYSLOG_HEAD = rf"<\d+>[A-Z][a-z]{{2}} [ \d]\d \d\d:\d\d:\d\d xinetd\[{PID}\]: "
#: The C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

#: Text meant to forge a record or drive a terminal.
HOSTILE = (
    "\n",
    "\r",
    "\r\n",
    "\x00",
    "\x1b[2J",
    "\x1b]0;owned\x07",
    "\x9b31m",
    "\x85",
    "\u2028",
    "\u2029",
    "\x0b",
    "\x0c",
    "\t",
    "\ud800",
    "\nFAIL: svc address from=203.0.113.66",
    "\r\n21/1/1@00:00:00: START: forged",
    "\n<13>Jan  1 00:00:00 xinetd[1]: forged",
)
HOSTILE_TEXT = st.lists(st.one_of(st.text(max_size=20), st.sampled_from(HOSTILE)), max_size=10).map(
    "".join
)
HOSTILE_BYTES = st.lists(
    st.one_of(
        st.binary(max_size=20),
        st.sampled_from([h.encode("utf-8", "surrogatepass") for h in HOSTILE]),
        st.sampled_from([b"\xff", b"\xc2", b"\xed\xa0\x80", b"x" * 700]),
    ),
    max_size=10,
).map(b"".join)


@dataclass
class Records:
    """
    The records written since the last look, checked to be one line each.

    @ivar service: the FILE service log's messages (after the timestamp).
    @ivar program: the FILE program log's level words and messages.
    @ivar syslog: the syslog datagrams' texts (after the head).
    """

    service: list[str] = field(default_factory=list)
    program: list[str] = field(default_factory=list)
    syslog: list[str] = field(default_factory=list)


class RealLogs:
    """
    The real log targets in a test's directory: a FILE service log, a FILE
    program log (a L{ProgramLogObserver} on the global log publisher), and
    syslog on a UNIX datagram socket of the test, which gets both.

    It is the service-log target of the admissions under test: each entry
    goes to the FILE service log and to syslog.
    """

    def __init__(self, case: SynchronousTestCase) -> None:
        self.case = case
        directory = case.mktemp()
        os.makedirs(directory)
        self.servicePath = os.path.join(directory, "service.log")
        self.programPath = os.path.join(directory, "program.log")
        syslogPath = os.path.join(directory, "syslog")
        self.receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.receiver.bind(syslogPath)
        self.receiver.setblocking(False)
        case.addCleanup(self.receiver.close)
        self.serviceFile = FileLogTarget(self.servicePath, logId="svc")
        self.programFile = FileLogTarget(self.programPath, pid=PID)
        self.syslog = SyslogTarget(Facility.DAEMON, SyslogLevel.INFO, syslogPath, pid=PID)
        for target in (self.serviceFile, self.programFile, self.syslog):
            case.addCleanup(target.close)
        for observer in (ProgramLogObserver(self.programFile), ProgramLogObserver(self.syslog)):
            globalLogPublisher.addObserver(observer)
            case.addCleanup(globalLogPublisher.removeObserver, observer)
        self.read = {self.servicePath: 0, self.programPath: 0}

    def writeService(self, message: str, when: float) -> None:
        self.serviceFile.writeService(message, when)
        self.syslog.writeService(message, when)

    def writeProgram(
        self, level: Level, message: str, when: float, function: str | None = None
    ) -> None:
        raise AssertionError("a service log gets no program messages")

    def close(self) -> None:
        """
        The admissions never close their target; the test does.
        """

    def newBytes(self, path: str) -> bytes:
        """
        What a file has been given since the last look.
        """
        with open(path, "rb") as f:
            f.seek(self.read[path])
            data = f.read()
        self.read[path] += len(data)
        return data

    @staticmethod
    def drain(receiver: socket.socket) -> list[bytes]:
        """
        The datagrams a non-blocking socket holds.
        """
        received = []
        for _ in range(10000):
            try:
                received.append(receiver.recv(65536))
            except BlockingIOError:
                return received
        raise AssertionError("too many datagrams")

    def lines(self, path: str, head: str) -> list[str]:
        """
        The new lines of a FILE log, each checked: valid UTF-8, C{head},
        no control character; the file ends with a line end.
        """
        text = self.newBytes(path).decode("utf-8")
        self.case.assertTrue(text == "" or text.endswith("\n"), repr(text))
        return [self.checked(line, head) for line in text.split("\n")[:-1]]

    def checked(self, record: str, head: str) -> str:
        """
        A record without its head, after checking it has no control
        character at all.
        """
        self.case.assertIsNone(CONTROL.search(record), repr(record))
        match = re.match(head, record)
        self.case.assertIsNotNone(match, repr(record))
        assert match is not None
        return record[match.end() :]

    def take(self) -> Records:
        """
        Every record written since the last look, each checked to be one
        clean line.
        """
        return Records(
            self.lines(self.servicePath, STAMP + ": "),
            self.lines(self.programPath, rf"{STAMP} xinetd\[{PID}\]: (?=[A-Z]+: )"),
            [self.checked(d.decode("utf-8"), SYSLOG_HEAD) for d in self.drain(self.receiver)],
        )


class InjectionTestCase(AdmissionTestCase):
    """
    Admissions whose service log is L{RealLogs}.
    """

    def setUp(self) -> None:
        super().setUp()
        self.logs = RealLogs(self)

    def fresh(self, config: ServiceConfig) -> Admission:
        """
        A new admission for C{config}, logging to the real logs.
        """
        admission = Admission(config, self.shared)
        self.serviceLog(admission).target = self.logs
        return admission

    def serve(
        self, admission: Admission, host: str = CLIENT, port: int = 40000
    ) -> tuple[FakeConnection, list[Session]]:
        """
        One connection from C{host}: admitted ones start and end at once.
        """
        connection, starts = self.connect(admission, host, port)
        for session in starts.sessions:
            session.ended(0)
        return connection, starts.sessions

    def assertRecords(self, service: list[str], program: list[str] | None = None) -> Records:
        """
        Check the records written since the last look: the FILE service
        log holds exactly C{service}, the program log C{program} (if
        given), and syslog got each of both once (program messages without
        their level word), the service entries in order.
        """
        records = self.logs.take()
        self.assertEqual(records.service, service)
        if program is not None:
            self.assertEqual(records.program, program)
        programTexts = [message.split(": ", 1)[1] for message in records.program]
        self.assertEqual(sorted(records.syslog), sorted(service + programTexts))
        self.assertEqual([r for r in records.syslog if r in service], service)
        return records


class RecordingAdmission(Admission):
    """
    An admission that keeps the results of its ident lookups.
    """

    def __init__(self, config: ServiceConfig, shared: Shared) -> None:
        super().__init__(config, shared)
        self.results: list[UserId | NoId] = []

    def askIdent(
        self, connection: PendingConnection, timeout: float | None
    ) -> Deferred[UserId | NoId]:
        return super().askIdent(connection, timeout).addCallback(self.record)

    def record(self, result: UserId | NoId) -> UserId | NoId:
        self.results.append(result)
        return result


class IdentReplyTests(InjectionTestCase):
    """
    What an ident server answers, through the real lookup.
    """

    def setUp(self) -> None:
        super().setUp()
        self.userid = self.config(" log_on_success = PID HOST EXIT DURATION USERID\n")

    def lookUp(self, reply: list[bytes]) -> UserId | NoId:
        """
        Serve one connection whose ident server sends C{reply} in pieces,
        then closes.

        @return: the lookup's result.
        """
        admission = RecordingAdmission(self.userid, self.shared)
        self.serviceLog(admission).target = self.logs
        _, sessions = self.serve(admission)
        self.assertEqual(len(sessions), 1)
        factory = self.clock.tcpClients[-1][2]
        protocol = cast(Protocol, factory.buildProtocol(None))
        protocol.makeConnection(StringTransport())
        for piece in reply:
            protocol.dataReceived(piece)
        factory.clientConnectionLost(self.clock.connectors[-1], Failure(error.ConnectionDone()))
        (result,) = admission.results
        return result

    @fuzzed(300)
    @given(
        st.sampled_from([b"40000,7:USERID:", b" 40000 , 7 : USERID : UNIX :", b"1,2:USERID:"]),
        HOSTILE_BYTES,
        st.sampled_from([b"\r\n", b"\n", b""]),
        st.lists(st.integers(0, 2000), max_size=4),
    )
    def test_reply(self, head: bytes, text: bytes, end: bytes, cuts: list[int]) -> None:
        """
        START, EXIT (the service does not wait for ident) and the USERID
        entry if the reply named a user, one line each; an unusable reply
        is one program-log line.
        """
        reply = head + text + end
        bounds = [0, *sorted(cuts), len(reply)]
        result = self.lookUp([reply[a:b] for a, b in itertools.pairwise(bounds)])
        if isinstance(result, UserId):
            self.assertLessEqual(len(result.text), MAX_TEXT)
            self.assertRecords([START, EXIT, f"USERID: svc {result.text}"], [])
        elif result.badLine is not None:
            records = self.assertRecords([START, EXIT])
            (bad,) = records.program
            self.assertTrue(
                bad.startswith(f"ERROR: Bad line received from identity server at {CLIENT}: "), bad
            )
        else:
            self.assertRecords([START, EXIT], [])


class ReverseNameTests(InjectionTestCase):
    """
    Reverse names from a resolver that returns anything.
    """

    def setUp(self) -> None:
        super().setUp()
        self.onlyFrom = self.config(" only_from = .example.com\n")
        self.plain = self.config()
        self.hostsAccess = HostsAccess(
            parseHostsTable("hosts.allow", "echo: .example.com\n", True),
            parseHostsTable("hosts.deny", "ALL: ALL\n", False),
        )

    @fuzzed(200)
    @given(HOSTILE_TEXT, st.sampled_from(["", ".example.com", ".EXAMPLE.com\n"]))
    def test_onlyFromByName(self, name: str, suffix: str) -> None:
        """
        A service allowed by domain: the name decides, but only the
        address is ever logged.
        """
        admission = self.fresh(self.onlyFrom)
        self.names[CLIENT] = succeed(name + suffix)
        _, sessions = self.serve(admission)
        if sessions:
            self.assertRecords([START, EXIT])
        else:
            self.assertRecords([f"FAIL: svc address from={CLIENT}"], [])

    @fuzzed(200)
    @given(HOSTILE_TEXT, st.sampled_from(["", ".example.com"]))
    def test_libwrapByName(self, name: str, suffix: str) -> None:
        """
        hosts.allow by domain: a refusal is a FAIL line and one program
        line, with the address only.
        """
        self.change(hosts=FixedHosts(self.hostsAccess))
        admission = self.fresh(self.plain)
        self.names[CLIENT] = succeed(name + suffix)
        self.addresses[name + suffix] = [CLIENT]
        _, sessions = self.serve(admission)
        if sessions:
            self.assertRecords([START, EXIT])
        else:
            self.assertRecords(
                [f"FAIL: svc libwrap from={CLIENT}"],
                [f"INFO: libwrap refused connection to svc (libwrap=echo) from {CLIENT}"],
            )


def shown(text: str) -> str:
    """
    Text as a log shows it: every control character, line or paragraph
    separator and lone surrogate as C{?}.
    """
    return re.sub("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]", "?", text)


class ConfigurationTextTests(InjectionTestCase):
    """
    Service ids, service names and banners: the configuration takes them
    as written (control characters included), the logs must not.
    """

    def setUp(self) -> None:
        super().setUp()
        self.bannerPath = os.path.join(self.files.base, "banner")
        banners = "".join(
            f" {attribute} = {self.bannerPath}\n"
            for attribute in ("banner", "banner_success", "banner_fail")
        )
        self.bannered = self.config(banners)
        self.cps = self.config(" cps = 1 10\n")

    @fuzzed(200)
    @given(HOSTILE_TEXT.filter(bool), HOSTILE_TEXT)
    def test_serviceIdAndName(self, serviceId: str, name: str) -> None:
        """
        START, EXIT and the FAIL of a cps trip show the id on one line each
        (the program message of the trip is the service's, and its text goes
        through the same program log as the others tested here).
        """
        admission = self.fresh(replace(self.cps, id=serviceId, name=name))
        self.serve(admission)
        self.serve(admission)
        sid = shown(serviceId)
        self.assertRecords(
            [
                f"START: {sid} pid=0 from={CLIENT}",
                f"EXIT: {sid} status=0 pid=0 duration=0(sec)",
                f"FAIL: {sid} connections per second from={CLIENT}",
            ],
            [],
        )

    @fuzzed(150)
    @given(HOSTILE_BYTES, st.booleans())
    def test_bannerContent(self, content: bytes, refused: bool) -> None:
        """
        A banner with any bytes goes to the client as it is; the logs get
        their usual lines only.
        """
        with open(self.bannerPath, "wb") as f:
            f.write(content)
        config = replace(self.bannered, instances=0) if refused else self.bannered
        connection, _ = self.serve(self.fresh(config))
        self.assertEqual(b"".join(connection.sent), content * 2)
        if refused:
            self.assertRecords([f"FAIL: svc service_limit from={CLIENT}"], [])
        else:
            self.assertRecords([START, EXIT], [])

    @fuzzed(150)
    @given(
        HOSTILE_BYTES.map(
            lambda path: path.replace(b"\x00", b"").decode("utf-8", "surrogateescape")
        ),
        st.booleans(),
    )
    def test_bannerPath(self, path: str, refused: bool) -> None:
        """
        A banner that cannot be opened is one program-log line, whatever
        its path holds (as the configuration reads it: bytes that are not
        UTF-8 as lone surrogates).
        """
        missing = os.path.join(self.files.base, "missing", path)
        config = replace(self.config(), banner=missing, instances=0 if refused else None)
        self.serve(self.fresh(config))
        service = [f"FAIL: svc service_limit from={CLIENT}"] if refused else [START, EXIT]
        self.assertRecords(
            service, [f"ERROR: service = svc, open of banner {shown(missing)} failed"]
        )

    def test_bannerPathWithNul(self) -> None:
        """
        A banner path with a NUL byte (the configuration accepts one) is a
        banner that cannot be opened, like any other.
        """
        config = replace(self.config(), banner="/tmp/\x00\nFAIL: forged", instances=0)
        connection, _ = self.serve(self.fresh(config))
        self.assertTrue(connection.closed)
        self.assertRecords(
            [f"FAIL: svc service_limit from={CLIENT}"],
            ["ERROR: service = svc, open of banner /tmp/??FAIL: forged failed"],
        )


#: Client addresses as the socket layer gives them to txinetd (IPv4-mapped
#: ones are shown as IPv4 before they get here).
ADDRESSES = st.one_of(
    st.ip_addresses().filter(lambda a: getattr(a, "ipv4_mapped", None) is None).map(str),
    st.builds(
        "fe80::1%{}".format, HOSTILE_TEXT.filter(lambda t: t and "%" not in t and "/" not in t)
    ),
)


class ClientAddressTests(InjectionTestCase):
    """
    Client addresses: numeric, or IPv6 with a scope, which is an interface
    name and may hold control characters.
    """

    def setUp(self) -> None:
        super().setUp()
        self.perSource = self.config(" per_source = 1\n")
        self.idonly = self.config(
            " log_on_success = PID HOST EXIT DURATION USERID\n flags = IDONLY\n"
        )

    @fuzzed(200)
    @given(st.one_of(ADDRESSES, HOSTILE_TEXT))
    def test_fromField(self, host: str) -> None:
        """
        START, the FAIL of a second connection from the same address
        (C{per_source = 1}) and EXIT show the address on one line each.
        """
        admission = self.fresh(self.perSource)
        _, starts = self.connect(admission, host)
        self.serve(admission, host)
        for session in starts.sessions:
            session.ended(0)
        self.assertRecords(
            [
                f"START: svc pid=0 from={shown(host)}",
                f"FAIL: svc per_source_limit from={shown(host)}",
                EXIT,
            ],
            [],
        )

    @fuzzed(100)
    @given(ADDRESSES)
    def test_noid(self, host: str) -> None:
        """
        The NOID line of an IDONLY refusal shows the address on one line.
        """
        admission = self.fresh(self.idonly)
        connection, starts = self.connect(admission, host)
        factory = self.clock.tcpClients[-1][2]
        factory.clientConnectionFailed(
            self.clock.connectors[-1], Failure(error.ConnectionRefusedError())
        )
        self.assertEqual((starts.sessions, connection.closed), ([], True))
        self.assertRecords([f"NOID: svc {shown(host)} no server"], [])


#: The ident server's replies, given the query's two ports: the first
#: query about a server port gets the first one, the next the second.
FORGED_REPLIES = (
    b"%s : USERID : UNIX : eve\r\nFAIL: forged\r\n",
    b"%s : USERID : UNIX : eve\rFAIL: forged\x1b[2K\r\n",
)


class _ForgingIdent(Protocol):
    """
    An ident server that answers a query with the next of
    L{FORGED_REPLIES} for its server port, then closes.

    @ivar queries: how many queries it has answered per server port, shared
        by every connection.
    """

    def __init__(self, queries: dict[bytes, int]) -> None:
        self.queries = queries
        self.query = b""

    def dataReceived(self, data: bytes) -> None:
        self.query += data
        if b"\n" in self.query and self.transport is not None:
            ports = self.query.split(b"\r\n", 1)[0]
            serverPort = ports.split(b",")[-1]
            answered = self.queries.get(serverPort, 0)
            self.queries[serverPort] = answered + 1
            self.transport.write(FORGED_REPLIES[answered % 2] % ports)
            self.transport.loseConnection()


class RealIdentServerTests(TestCase):
    """
    A real ident server on 127.0.0.1 forging log lines, against an
    in-process daemon on the real reactor logging to a FILE and to syslog.
    """

    @inlineCallbacks
    def test_forgedFailLine(self) -> Generator[Deferred[Any], Any, None]:
        """
        A USERID reply with C{\\r\\nFAIL: forged} after the user, or with a
        bare CR and an escape sequence, gives one USERID line (the first
        line of the reply, control characters as C{?}); no FAIL line
        appears in the FILE log or in syslog.
        """
        queries: dict[bytes, int] = {}
        ident = reactor.listenTCP(
            0, Factory.forProtocol(lambda: _ForgingIdent(queries)), interface="127.0.0.1"
        )
        self.addCleanup(ident.stopListening)
        directory = self.mktemp()
        os.makedirs(directory)
        syslog = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(syslog.close)
        syslog.bind(os.path.join(directory, "syslog"))
        syslog.setblocking(False)
        serviceLog = os.path.join(directory, "service.log")
        entry = (
            "service daytime\n{{\n type = INTERNAL UNLISTED\n id = {id}\n socket_type = stream\n"
            " wait = no\n port = 0\n bind = 127.0.0.1\n log_type = {log}\n"
            " log_on_success = PID HOST EXIT USERID\n}}\n"
        )
        config = loadText(
            entry.format(id="daytime-file", log=f"FILE {serviceLog}")
            + entry.format(id="daytime-syslog", log="SYSLOG daemon info")
        )
        self.assertEqual(config.errors, ())
        made = onThisMachine(
            reactor, syslogSocket=os.path.join(directory, "syslog"), identPort=portNumber(ident)
        )
        tree = XinetdService(config, made)
        tree.privilegedStartService()
        tree.startService()
        self.addCleanup(tree.stopService)
        for serviceId in ("daytime-file", "daytime-syslog"):
            service = tree.getServiceNamed(serviceId)
            assert isinstance(service, ListeningService) and service.address is not None
            for _ in range(2):
                answer = yield tcpExchange("127.0.0.1", service.address[1])
                self.assertRegex(answer, rb"^\d\d [A-Z]{3} \d{4} ")
        userids = [
            "USERID: {} UNIX : eve",
            "USERID: {} UNIX : eve?FAIL: forged?[2K",
        ]
        datagrams: list[bytes] = []

        def logged() -> tuple[list[str], list[str]] | None:
            with open(serviceLog, "rb") as f:
                lines = f.read().decode("utf-8").split("\n")
            datagrams.extend(RealLogs.drain(syslog))
            texts = [d.decode("utf-8") for d in datagrams]
            done = all(
                any(line.endswith(u.format("daytime-file")) for line in lines) for u in userids
            ) and all(any(t.endswith(u.format("daytime-syslog")) for t in texts) for u in userids)
            return (lines, texts) if done and len(lines) == 7 else None

        lines, texts = yield pollUntil(logged, lambda: f"USERID lines, have {datagrams}")
        self.assertEqual(lines[-1], "")
        messages = [re.sub(rf"^{STAMP}: ", "", line) for line in lines[:-1]]
        self.assertEqual(
            sorted(messages),
            sorted(
                ["START: daytime-file pid=0 from=127.0.0.1"] * 2
                + ["EXIT: daytime-file status=0 pid=0"] * 2
                + [u.format("daytime-file") for u in userids]
            ),
        )
        syslogMessages = [
            re.sub(r"^<30>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d xinetd\[\d+\]: ", "", t)
            for t in texts
        ]
        self.assertEqual(
            sorted(syslogMessages),
            sorted(
                ["START: daytime-syslog pid=0 from=127.0.0.1"] * 2
                + ["EXIT: daytime-syslog status=0 pid=0"] * 2
                + [u.format("daytime-syslog") for u in userids]
            ),
        )
        for record in [*lines[:-1], *texts]:
            self.assertIsNone(CONTROL.search(record), repr(record))
