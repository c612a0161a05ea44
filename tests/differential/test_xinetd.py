# -*- test-case-name: tests.differential.test_xinetd -*-
"""
Differential tests: the same configuration run by Debian's xinetd 2.3.15
and by txinetd (L{tests.differential.peers}), the same clients against
both, and what they received and the service-log lines compared.

L{SameTests} covers behaviours that are xinetd's (docs/differences.md does
not list them): the built-in services over TCP and UDP, C{only_from} and
C{no_access} refusals and their FAIL lines, C{instances} and C{per_source},
banners, C{access_times}, the START and EXIT lines of a server and the
environment it gets.
L{DifferenceTests} checks that a sample of the differences that
docs/differences.md lists are real: xinetd does otherwise.

Needs root (xinetd's hosts files are hidden in a mount namespace, and every
test runs in a network namespace of its own), the Debian package xinetd and
util-linux; skipped without them (a failure where every test must run).
"""

from __future__ import annotations

import re
import signal
import socket
import struct
import time
from collections.abc import Generator
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import DatagramProtocol
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from tests.integration.support import (
    pollUntil,
    reactor,
    tcpExchange,
    tcpExchangeFrom,
    udpExchange,
)

from .peers import Peer, Peers, masked

Generated = Generator[Deferred[Any], Any, None]

HOST = "127.0.0.1"

#: What a daytime service sends: C{DD MON YYYY HH:MM:SS ZONE} CR LF.
DAYTIME = re.compile(rb"\d\d [A-Z]{3} \d{4} \d\d:\d\d:\d\d \S+\r\n")

#: Seconds from 1900 to 1970 (RFC 868).
TIME_OFFSET = 2208988800

#: What the echo clients send.
PAYLOAD = b"differential\r\n"

#: The banners (their paths are C{{directory}/banner...}).
BANNER = b"banner\r\n"
SUCCESS = b"welcome\r\n"
FAILURE = b"go away\r\n"

#: The pid and duration of a START or EXIT line, which differ from run to run.
VARYING = {r"pid=[1-9]\d*": "pid=N", r"duration=\d+\(sec\)": "duration=D(sec)"}

DEFAULTS = """\
defaults
{{
\tlog_type = FILE {log}
\tlog_on_success = PID HOST EXIT DURATION
\tlog_on_failure = HOST
\tcps = 0 0
}}
"""


def entry(name: str, *lines: str) -> str:
    """
    A service entry of a configuration template (braces doubled).
    """
    body = "".join(f"\t{line}\n" for line in lines)
    return f"service {name}\n{{{{\n{body}}}}}\n"


def builtin(name: str, serviceId: str, socketType: str, *lines: str) -> str:
    """
    A built-in service on 127.0.0.1, on the port named after its id.
    """
    wait = "yes" if socketType == "dgram" else "no"
    return entry(
        name,
        f"id = {serviceId}",
        "type = INTERNAL UNLISTED",
        f"socket_type = {socketType}",
        f"wait = {wait}",
        f"port = {{{serviceId}}}",
        *lines,
    )


def external(serviceId: str, server: str, *lines: str) -> str:
    """
    A service on 127.0.0.1 that runs C{server} as root.
    """
    return entry(
        serviceId,
        "type = UNLISTED",
        "socket_type = stream",
        "wait = no",
        "user = root",
        f"server = {server}",
        f"port = {{{serviceId}}}",
        "bind = 127.0.0.1",
        *lines,
    )


BANNERS = (
    "banner = {directory}/banner",
    "banner_success = {directory}/success",
    "banner_fail = {directory}/failure",
)


def writeBanners(peers: Peers) -> None:
    for peer in peers:
        for name, text in (("banner", BANNER), ("success", SUCCESS), ("failure", FAILURE)):
            with open(peer.path(name), "wb") as f:
                f.write(text)


def isDaytime(data: bytes) -> bool:
    return DAYTIME.fullmatch(data) is not None


def describeTime(data: bytes) -> str:
    """
    An RFC 868 answer: four bytes within a minute of this machine's clock.
    """
    if len(data) != 4:
        return f"not 4 bytes: {data!r}"
    seconds = struct.unpack("!I", data)[0] - TIME_OFFSET
    return "now" if abs(seconds - time.time()) < 60 else f"{seconds} is not now"


def answer(peer: Peer, port: str, send: bytes = b"", source: str = HOST) -> Deferred[bytes]:
    """
    What a client from C{source} that sends C{send} and half-closes reads
    from a peer's service until it closes; C{b"refused"} if the connection
    is refused.
    """

    def refused(failure: Failure) -> bytes:
        failure.trap(ConnectionRefusedError)
        return b"refused"

    return tcpExchangeFrom(source, HOST, peer.ports[port], send).addErrback(refused)


def readUntilEnd(client: socket.socket, count: int | None = None) -> Deferred[bytes]:
    """
    Read a non-blocking socket, without blocking the reactor, until its
    peer closes (or C{count} bytes have come); fire with what was read.
    """
    received = bytearray()

    def read() -> bytes | None:
        try:
            while count is None or len(received) < count:
                chunk = client.recv(4096)
                if not chunk:
                    return bytes(received)
                received.extend(chunk)
        except BlockingIOError:
            return None
        return bytes(received)

    return pollUntil(read, lambda: f"the end of the reply; read {bytes(received)!r}")


class SameTests(TestCase):
    """
    Behaviours xinetd and txinetd share: the clients get the same bytes and
    the service logs have the same lines.
    """

    timeout = 60

    def setUp(self) -> None:
        self.peers = Peers(self)

    @inlineCallbacks
    def test_builtins(self) -> Generated:
        """
        echo, discard, daytime, time and chargen over TCP and UDP answer
        alike: echo byte for byte, daytime and time by their pattern and
        clock, chargen byte for byte (a whole period of 95 lines over TCP, a
        datagram of 1024 bytes).  Both log START with C{pid=0} for a
        datagram service.
        """
        names = ("echo", "discard", "daytime", "time", "chargen")
        template = DEFAULTS + "".join(
            builtin(name, f"{name}-{kind}", kind, f"bind = {HOST}")
            for name in names
            for kind in ("stream", "dgram")
        )
        ports = [f"{name}-{kind}" for name in names for kind in ("stream", "dgram")]
        yield self.peers.start(template, ports)

        @inlineCallbacks
        def probe(peer: Peer) -> Generator[Deferred[Any], Any, dict[str, Any]]:
            port = peer.ports
            chargen = yield tcpExchange(
                HOST, port["chargen-stream"], halfClose=False, limit=95 * 74
            )
            return {
                "echo": (yield tcpExchange(HOST, port["echo-stream"], PAYLOAD)),
                "discard": (yield tcpExchange(HOST, port["discard-stream"], PAYLOAD)),
                "daytime": isDaytime((yield tcpExchange(HOST, port["daytime-stream"]))),
                "time": describeTime((yield tcpExchange(HOST, port["time-stream"]))),
                "chargen": chargen[: 95 * 74],
                "echo-dgram": (yield udpExchange(HOST, port["echo-dgram"], PAYLOAD)),
                "daytime-dgram": isDaytime((yield udpExchange(HOST, port["daytime-dgram"], b"?"))),
                "time-dgram": describeTime((yield udpExchange(HOST, port["time-dgram"], b"?"))),
                "chargen-dgram": (yield udpExchange(HOST, port["chargen-dgram"], b"?")),
            }

        results = yield self.peers.both(probe)
        self.assertEqual(results["txinetd"], results["xinetd"])
        expected = {"echo": PAYLOAD, "discard": b"", "daytime": True, "time": "now"}
        self.assertEqual({key: results["xinetd"][key] for key in expected}, expected)
        self.assertEqual(len(results["xinetd"]["chargen"]), 95 * 74)
        self.assertEqual(len(results["xinetd"]["chargen-dgram"]), 1024)
        datagrams = [
            f"START: {name}-dgram pid=0 from=127.0.0.1"
            for name in ("echo", "daytime", "time", "chargen")
        ]
        logs = yield self.peers.messagesOnce(
            lambda peer, messages: all(line in messages for line in datagrams)
        )
        for messages in logs.values():
            self.assertEqual(sorted(m for m in messages if "-dgram" in m), sorted(datagrams))

    @inlineCallbacks
    def test_accessAndBanners(self) -> Generated:
        """
        A client that C{only_from} or C{no_access} refuses gets C{banner}
        and C{banner_fail}, and one C{FAIL: <id> address} line is written;
        one they allow gets C{banner}, C{banner_success} and the service.
        """
        writeBanners(self.peers)
        template = (
            DEFAULTS
            + builtin(
                "daytime", "only", "stream", f"bind = {HOST}", "only_from = 127.0.0.2", *BANNERS
            )
            + builtin(
                "daytime", "deny", "stream", f"bind = {HOST}", "no_access = 127.0.0.1", *BANNERS
            )
        )
        yield self.peers.start(template, ["only", "deny"])

        @inlineCallbacks
        def probe(peer: Peer) -> Generator[Deferred[Any], Any, dict[str, bytes]]:
            received = {
                "only from .1": (yield answer(peer, "only")),
                "deny from .1": (yield answer(peer, "deny")),
                "only from .2": (yield answer(peer, "only", source="127.0.0.2")),
                "deny from .2": (yield answer(peer, "deny", source="127.0.0.2")),
            }
            return {key: DAYTIME.sub(b"<daytime>", value) for key, value in received.items()}

        results = yield self.peers.both(probe)
        self.assertEqual(results["txinetd"], results["xinetd"])
        served = BANNER + SUCCESS + b"<daytime>"
        self.assertEqual(
            results["xinetd"],
            {
                "only from .1": BANNER + FAILURE,
                "deny from .1": BANNER + FAILURE,
                "only from .2": served,
                "deny from .2": served,
            },
        )
        fails = ["FAIL: only address from=127.0.0.1", "FAIL: deny address from=127.0.0.1"]
        logs = yield self.peers.messagesOnce(
            lambda peer, messages: all(fail in messages for fail in fails)
        )
        for messages in logs.values():
            self.assertEqual(sorted(m for m in messages if m.startswith("FAIL")), sorted(fails))

    @inlineCallbacks
    def test_limits(self) -> Generated:
        """
        While the only instance of a service (C{instances = 1}) and the only
        session of a client (C{per_source = 1}) are held, the next client
        gets C{banner} and C{banner_fail} and one FAIL line with
        C{service_limit} or C{per_source_limit}; the held sessions log
        START, then EXIT once they end.
        """
        writeBanners(self.peers)
        template = (
            DEFAULTS
            + external("inst", "/bin/cat", "instances = 1", *BANNERS)
            + external("persrc", "/bin/cat", "per_source = 1", *BANNERS)
        )
        yield self.peers.start(template, ["inst", "persrc"])

        @inlineCallbacks
        def probe(peer: Peer) -> Generator[Deferred[Any], Any, list[Any]]:
            held = [socket.create_connection((HOST, peer.ports[name])) for name in peer.ports]
            for client in held:
                self.addCleanup(client.close)
                client.setblocking(False)
            yield pollUntil(
                lambda: sum(m.startswith("START") for m in peer.messages()) == 2 or None,
                lambda: f"{peer.name}: two START lines in {peer.messages()}",
            )
            refused = []
            for name in peer.ports:
                refused.append((yield answer(peer, name, PAYLOAD)))
            from2 = yield answer(peer, "persrc", PAYLOAD, source="127.0.0.2")
            # Each held client reads its banners, then half-closes: its
            # server reads the end of its input and exits.
            for client in held:
                received = yield readUntilEnd(client, len(BANNER + SUCCESS))
                self.assertEqual(received, BANNER + SUCCESS)
                client.shutdown(socket.SHUT_WR)
                self.assertEqual((yield readUntilEnd(client)), b"")
            yield pollUntil(
                lambda: sum(m.startswith("EXIT") for m in peer.messages()) == 3 or None,
                lambda: f"{peer.name}: three EXIT lines in {peer.messages()}",
            )
            return [refused, from2, sorted(masked(peer.messages(), VARYING))]

        results = yield self.peers.both(probe)
        self.assertEqual(results["txinetd"], results["xinetd"])
        refused, from2, messages = results["xinetd"]
        self.assertEqual(refused, [BANNER + FAILURE] * 2)
        self.assertEqual(from2, BANNER + SUCCESS + PAYLOAD)
        self.assertEqual(
            messages,
            sorted(
                [
                    "START: inst pid=N from=127.0.0.1",
                    "START: persrc pid=N from=127.0.0.1",
                    "START: persrc pid=N from=127.0.0.2",
                    "FAIL: inst service_limit from=127.0.0.1",
                    "FAIL: persrc per_source_limit from=127.0.0.1",
                    *["EXIT: inst status=0 pid=N duration=D(sec)"],
                    *["EXIT: persrc status=0 pid=N duration=D(sec)"] * 2,
                ]
            ),
        )

    @inlineCallbacks
    def test_accessTimes(self) -> Generated:
        """
        Outside its C{access_times} a service refuses with C{banner},
        C{banner_fail} and C{FAIL: <id> time}.
        """
        writeBanners(self.peers)
        window = "23:00-23:59" if time.localtime().tm_hour < 12 else "00:00-01:00"
        template = DEFAULTS + builtin(
            "daytime", "atime", "stream", f"bind = {HOST}", f"access_times = {window}", *BANNERS
        )
        yield self.peers.start(template, ["atime"])
        results = yield self.peers.both(lambda peer: answer(peer, "atime"))
        self.assertEqual(results, {"xinetd": BANNER + FAILURE, "txinetd": BANNER + FAILURE})
        logs = yield self.peers.messagesOnce(lambda peer, messages: bool(messages))
        self.assertEqual(logs, {name: ["FAIL: atime time from=127.0.0.1"] for name in logs})

    @inlineCallbacks
    def test_serverLogAndEnvironment(self) -> Generated:
        """
        A server's START and EXIT lines are the same but for the pid and
        the duration, and its environment is the daemon's plus
        C{REMOTE_HOST}; txinetd adds C{REMOTE_PORT} (a listed difference).
        """
        template = DEFAULTS + external("env", "/usr/bin/env")
        yield self.peers.start(template, ["env"])

        @inlineCallbacks
        def probe(peer: Peer) -> Generator[Deferred[Any], Any, list[Any]]:
            received = yield answer(peer, "env")
            yield pollUntil(
                lambda: len(peer.messages()) == 2 or None,
                lambda: f"{peer.name}: START and EXIT in {peer.messages()}",
            )
            pids = {int(pid) for pid in re.findall(r"pid=(\d+)", " ".join(peer.messages()))}
            variables = sorted(received.decode().splitlines())
            port = [v for v in variables if v.startswith("REMOTE_PORT=")]
            return [variables, port, len(pids), masked(peer.messages(), VARYING)]

        results = yield self.peers.both(probe)
        xinetd, txinetd = results["xinetd"], results["txinetd"]
        self.assertEqual(xinetd[1], [])
        self.assertEqual(len(txinetd[1]), 1)
        self.assertEqual([v for v in txinetd[0] if v not in txinetd[1]], xinetd[0])
        self.assertIn("REMOTE_HOST=127.0.0.1", xinetd[0])
        self.assertEqual(txinetd[2:], xinetd[2:])
        self.assertEqual(
            xinetd[2:],
            [1, ["START: env pid=N from=127.0.0.1", "EXIT: env status=0 pid=N duration=D(sec)"]],
        )


class DifferenceTests(TestCase):
    """
    A sample of the differences from xinetd that docs/differences.md lists:
    xinetd does what the page says it does, and txinetd does otherwise.
    """

    timeout = 60

    def setUp(self) -> None:
        self.peers = Peers(self)

    def daytimes(self, *names: str) -> Deferred[dict[str, dict[str, bytes]]]:
        """
        What a client from 127.0.0.1 gets from each named service of each
        peer: C{b"daytime"} for a daytime line.
        """

        @inlineCallbacks
        def probe(peer: Peer) -> Generator[Deferred[Any], Any, dict[str, bytes]]:
            found = {}
            for name in names:
                received = yield answer(peer, name)
                found[name] = b"daytime" if isDaytime(received) else received
            return found

        return self.peers.both(probe)

    @inlineCallbacks
    def test_braceComment(self) -> Generated:
        """
        C{} # comment} closes its entry in txinetd; xinetd loses that entry
        and the next one.
        """
        template = DEFAULTS + "".join(
            builtin("daytime", name, "stream", f"bind = {HOST}") for name in ("a", "b", "c")
        ).replace(
            "}}\nservice daytime\n{{\n\tid = b", "}} # the end of a\nservice daytime\n{{\n\tid = b"
        )
        self.assertIn("}} # the end of a", template)
        yield self.peers.start(template, ["a", "b", "c"])
        results = yield self.daytimes("a", "b", "c")
        self.assertEqual(
            results,
            {
                "xinetd": {"a": b"refused", "b": b"refused", "c": b"daytime"},
                "txinetd": {"a": b"daytime", "b": b"daytime", "c": b"daytime"},
            },
        )

    @inlineCallbacks
    def test_accessDecisions(self) -> Generated:
        """
        C{only_from = 127.0.0.1} with C{no_access = 127.0.0.0/8}: the more
        specific entry (the host) wins in txinetd, xinetd refuses.  A
        refused client of a forking service: xinetd logs START, FAIL and
        EXIT, txinetd FAIL only.
        """
        template = (
            DEFAULTS
            + builtin(
                "daytime",
                "specific",
                "stream",
                f"bind = {HOST}",
                "only_from = 127.0.0.1",
                "no_access = 127.0.0.0/8",
            )
            + external("forked", "/bin/echo", "only_from = 127.0.0.2")
        )
        yield self.peers.start(template, ["specific", "forked"])
        results = yield self.daytimes("specific", "forked")
        self.assertEqual(
            results,
            {
                "xinetd": {"specific": b"", "forked": b""},
                "txinetd": {"specific": b"daytime", "forked": b""},
            },
        )
        logs = yield self.peers.messagesOnce(
            lambda peer, messages: (
                "FAIL: forked address from=127.0.0.1" in messages
                and (peer.name == "txinetd" or len(messages) == 4)
            )
        )
        self.assertEqual(
            sorted(masked(logs["xinetd"], VARYING)),
            sorted(
                [
                    "FAIL: specific address from=127.0.0.1",
                    "START: forked pid=N from=127.0.0.1",
                    "FAIL: forked address from=127.0.0.1",
                    "EXIT: forked status=0 pid=N duration=D(sec)",
                ]
            ),
        )
        self.assertIn(
            "only_from list and no_access list match equally", self.peers.xinetd.program()
        )
        self.assertEqual(
            sorted(masked(logs["txinetd"], VARYING)),
            sorted(
                [
                    "START: specific pid=0 from=127.0.0.1",
                    "EXIT: specific status=0 pid=0 duration=D(sec)",
                    "FAIL: forked address from=127.0.0.1",
                ]
            ),
        )

    @inlineCallbacks
    def test_addresses(self) -> Generated:
        """
        An IPv4 client of a dual-stack service is logged as C{::ffff:a.b.c.d}
        by xinetd, as C{a.b.c.d} by txinetd; an IPv6 C{/128} entry never
        matches in xinetd, it does in txinetd.
        """
        template = (
            DEFAULTS
            + builtin("daytime", "mapped", "stream")
            + builtin(
                "daytime", "host6", "stream", "flags = IPv6", "bind = ::1", "only_from = ::1/128"
            )
        )
        yield self.peers.start(template, ["mapped", "host6"])

        @inlineCallbacks
        def probe(peer: Peer) -> Generator[Deferred[Any], Any, list[Any]]:
            mapped = yield tcpExchange(HOST, peer.ports["mapped"])
            host6 = yield tcpExchange("::1", peer.ports["host6"])

            def twoLines() -> list[str] | None:
                # One per client; txinetd writes START once the answer is
                # sent (docs/differences.md), so it may follow the reply.
                found = [m for m in peer.messages() if "EXIT" not in m]
                return found if len(found) >= 2 else None

            messages = yield pollUntil(
                twoLines, lambda: f"{peer.name}: two lines in {peer.messages()}"
            )
            return [isDaytime(mapped), isDaytime(host6), sorted(messages)]

        results = yield self.peers.both(probe)
        self.assertEqual(
            results,
            {
                "xinetd": [
                    True,
                    False,
                    ["FAIL: host6 address from=::1", "START: mapped pid=0 from=::ffff:127.0.0.1"],
                ],
                "txinetd": [
                    True,
                    True,
                    ["START: host6 pid=0 from=::1", "START: mapped pid=0 from=127.0.0.1"],
                ],
            },
        )

    @inlineCallbacks
    def test_trafficInDefaults(self) -> Generated:
        """
        C{TRAFFIC} in the defaults' C{log_on_success}: xinetd drops every
        service that is not a redirect, txinetd ignores the flag for them.
        """
        template = DEFAULTS.replace("EXIT DURATION", "EXIT DURATION TRAFFIC") + builtin(
            "daytime", "plain", "stream", f"bind = {HOST}"
        )
        yield self.peers.start(template, ["plain"])
        results = yield self.daytimes("plain")
        self.assertEqual(
            results, {"xinetd": {"plain": b"refused"}, "txinetd": {"plain": b"daytime"}}
        )
        self.assertIn(
            "Service daytime should not have TRAFFIC flag set since its not redirected",
            self.peers.xinetd.program(),
        )

    @inlineCallbacks
    def test_datagramBurst(self) -> Generated:
        """
        A burst of datagrams queued while the daemon is stopped: xinetd's
        echo answers the first and drains the others, txinetd's answers
        every one.
        """
        template = DEFAULTS + builtin("echo", "echo-dgram", "dgram", f"bind = {HOST}")
        yield self.peers.start(template, ["echo-dgram"])
        results = yield self.peers.both(self.burst)
        self.assertEqual(results, {"xinetd": [b"1"], "txinetd": [b"1", b"2", b"3", b"4", b"5"]})

    @inlineCallbacks
    def burst(self, peer: Peer) -> Generator[Deferred[Any], Any, list[bytes]]:
        """
        Send datagrams 1 to 5 while C{peer} is stopped, let it go on, then
        send C{end} again and again until it is answered.

        @return: the replies before the first answer to C{end}.
        """
        client = _Replies()
        listening = reactor.listenUDP(0, client, interface=HOST)
        self.addCleanup(listening.stopListening)
        assert client.transport is not None
        port = peer.ports["echo-dgram"]
        peer.signal(signal.SIGSTOP)
        try:
            for number in range(1, 6):
                client.transport.write(b"%d" % number, (HOST, port))
        finally:
            peer.signal(signal.SIGCONT)
        yield pollUntil(lambda: client.replies or None, lambda: f"{peer.name}: a reply")

        def ended() -> bool | None:
            if b"end" in client.replies:
                return True
            assert client.transport is not None
            client.transport.write(b"end", (HOST, port))
            return None

        yield pollUntil(ended, lambda: f"{peer.name}: the answer to end", 10)
        return client.replies[: client.replies.index(b"end")]


class _Replies(DatagramProtocol):
    """
    Collects the datagrams it receives, in order.
    """

    def __init__(self) -> None:
        self.replies: list[bytes] = []

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.replies.append(datagram)
