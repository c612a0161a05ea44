# -*- test-case-name: tests.serve.test_rpc -*-
"""
Tests for L{txinetd.serve.rpc}: the XDR bytes of portmapper calls and replies,
the client's retransmissions and time-outs on a fake transport and clock,
and L{register} / L{unregister} on the real reactor against a portmapper
played by the test on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.defer import Deferred
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.fakes import ConfigFiles
from tests.integration.support import reactor
from txinetd.serve.rpc import (
    RESERVED_PORTS,
    AcceptStat,
    AuthStat,
    Mapping,
    Portmapper,
    PortmapperClient,
    Procedure,
    RpcError,
    decodeReply,
    defaultSourcePorts,
    encodeCall,
    pmapSetFailed,
    readRpcFile,
    register,
    rpcProgram,
    rpcVersions,
    unregister,
)

UINT32 = st.integers(min_value=0, max_value=2**32 - 1)


@dataclass(frozen=True)
class Call:
    """
    A portmapper call as the test's own decoder reads it.
    """

    xid: int
    procedure: int
    mapping: Mapping


def decodeCall(data: bytes) -> Call:
    """
    Read a call made by L{encodeCall}: RPC version 2, program 100000
    version 2, AUTH_NONE credentials and verifier, a mapping.
    """
    fields = struct.unpack("!14I", data)
    xid, kind, rpcVersion, program, version, procedure = fields[:6]
    assert (kind, rpcVersion, program, version, fields[6:10]) == (0, 2, 100000, 2, (0, 0, 0, 0))
    return Call(xid, procedure, Mapping(*fields[10:]))


def verifier(flavor: int = 0, body: bytes = b"") -> bytes:
    """
    An XDR C{opaque_auth}.
    """
    padding = b"\x00" * (-len(body) % 4)
    return struct.pack("!II", flavor, len(body)) + body + padding


def acceptedReply(xid: int, result: int, auth: bytes = verifier()) -> bytes:
    """
    A successful reply with a boolean result.
    """
    return struct.pack("!III", xid, 1, 0) + auth + struct.pack("!II", 0, result)


def unsuccessfulReply(xid: int, stat: int, *extra: int) -> bytes:
    """
    An accepted reply whose call did not run.
    """
    return (
        struct.pack("!III", xid, 1, 0)
        + verifier()
        + struct.pack(f"!{1 + len(extra)}I", stat, *extra)
    )


def deniedReply(xid: int, *fields: int) -> bytes:
    """
    A reply that refuses the call.
    """
    return struct.pack(f"!{3 + len(fields)}I", xid, 1, 1, *fields)


class EncodeCallTests(SynchronousTestCase):
    """
    L{encodeCall}.
    """

    def test_knownBytes(self) -> None:
        """
        PMAP_SET of program 300333 version 1 over TCP on port 4444, as
        rpcbind reads it.
        """
        self.assertEqual(
            encodeCall(1, Procedure.SET, Mapping(300333, 1, 6, 4444)).hex(),
            "00000001"  # xid
            "00000000"  # CALL
            "00000002"  # RPC version 2
            "000186a0"  # program 100000
            "00000002"  # version 2
            "00000001"  # PMAPPROC_SET
            "0000000000000000"  # AUTH_NONE credentials
            "0000000000000000"  # AUTH_NONE verifier
            "0004952d"  # program 300333
            "00000001"  # version 1
            "00000006"  # TCP
            "0000115c",  # port 4444
        )

    def test_unset(self) -> None:
        """
        PMAP_UNSET is procedure 2.
        """
        data = encodeCall(2**32 - 1, Procedure.UNSET, Mapping(100001, 3, 0, 0))
        self.assertEqual(decodeCall(data), Call(2**32 - 1, 2, Mapping(100001, 3, 0, 0)))

    @given(UINT32, st.sampled_from(Procedure), UINT32, UINT32, UINT32, UINT32)
    def test_roundTrip(
        self, xid: int, procedure: Procedure, program: int, version: int, protocol: int, port: int
    ) -> None:
        """
        Every field comes back as it went in.
        """
        mapping = Mapping(program, version, protocol, port)
        data = encodeCall(xid, procedure, mapping)
        self.assertEqual((len(data), decodeCall(data)), (56, Call(xid, procedure, mapping)))


class DecodeReplyTests(SynchronousTestCase):
    """
    L{decodeReply}.
    """

    def test_rpcbindTrue(self) -> None:
        """
        The reply rpcbind sends for a mapping it made.
        """
        reply = bytes.fromhex("00000001000000010000000000000000000000000000000000000001")
        self.assertEqual(decodeReply(reply), (1, True))

    def test_rpcbindFalse(self) -> None:
        """
        The reply rpcbind sends for a version already mapped to another
        port.
        """
        reply = bytes.fromhex("0000002a000000010000000000000000000000000000000000000000")
        self.assertEqual(decodeReply(reply), (42, False))

    def test_verifierSkipped(self) -> None:
        """
        A verifier with a body, padded to 4 bytes, is skipped.
        """
        reply = acceptedReply(7, 1, verifier(1, b"\x01\x02\x03\x04\x05"))
        self.assertEqual(decodeReply(reply), (7, True))

    def assertRefused(self, reply: bytes, xid: int, reason: str) -> None:
        error = self.assertRaises(RpcError, decodeReply, reply)
        self.assertEqual((error.xid, error.reason, str(error)), (xid, reason, reason))

    def test_authError(self) -> None:
        """
        A call refused for its credentials names the C{auth_stat}.
        """
        self.assertRefused(
            deniedReply(3, 1, AuthStat.AUTH_TOOWEAK), 3, "call rejected: AUTH_TOOWEAK"
        )
        self.assertRefused(deniedReply(4, 1, 99), 4, "call rejected: AuthStat 99")

    def test_rpcMismatch(self) -> None:
        """
        A call refused for its RPC version names the versions served.
        """
        self.assertRefused(
            deniedReply(5, 0, 2, 2), 5, "call rejected: RPC version mismatch (versions 2 to 2)"
        )

    def test_notRun(self) -> None:
        """
        An accepted call that did not run names the C{accept_stat}.
        """
        self.assertRefused(
            unsuccessfulReply(6, AcceptStat.PROG_UNAVAIL), 6, "call not run: PROG_UNAVAIL"
        )
        self.assertRefused(
            unsuccessfulReply(6, AcceptStat.PROG_MISMATCH, 3, 4),
            6,
            "call not run: PROG_MISMATCH (versions 3 to 4)",
        )
        self.assertRefused(unsuccessfulReply(6, 17), 6, "call not run: AcceptStat 17")

    def test_malformed(self) -> None:
        """
        What is not a well-formed reply raises L{ValueError}.
        """
        good = acceptedReply(1, 1)
        bad = [
            b"",
            good[:-1],
            good[:4] + struct.pack("!I", 0) + good[8:],  # a CALL
            good[:8] + struct.pack("!I", 2) + good[12:],  # reply_stat 2
            acceptedReply(1, 2),  # not a boolean
            acceptedReply(1, 1, struct.pack("!II", 0, 404) + b"\x00" * 404),
            acceptedReply(1, 1)[:12] + struct.pack("!II", 0, 8),  # body missing
            deniedReply(1, 2),  # reject_stat 2
        ]
        for data in bad:
            self.assertRaises(ValueError, decodeReply, data)

    @given(UINT32, st.booleans(), UINT32, st.binary(max_size=400))
    def test_roundTrip(self, xid: int, result: bool, flavor: int, body: bytes) -> None:
        """
        Any well-formed successful reply gives its xid and result.
        """
        self.assertEqual(
            decodeReply(acceptedReply(xid, int(result), verifier(flavor, body))), (xid, result)
        )

    @given(st.binary(max_size=80))
    def test_anyBytes(self, data: bytes) -> None:
        """
        Any bytes decode or raise L{ValueError} or L{RpcError}, nothing
        else.
        """
        try:
            xid, result = decodeReply(data)
        except (ValueError, RpcError):
            return
        (length,) = struct.unpack_from("!I", data, 16)
        (value,) = struct.unpack_from("!I", data, 24 + (length + 3) // 4 * 4)
        self.assertEqual((xid, result), (struct.unpack_from("!I", data)[0], bool(value)))


class FakeUDPTransport:
    """
    Records what a connected datagram protocol does with its transport.
    """

    def __init__(self) -> None:
        self.connectedTo: tuple[str, int] | None = None
        self.written: list[bytes] = []

    def connect(self, host: str, port: int) -> None:
        self.connectedTo = (host, port)

    def write(self, data: bytes, addr: object = None) -> None:
        assert addr is None
        self.written.append(data)


class PortmapperClientTests(SynchronousTestCase):
    """
    L{PortmapperClient} on a fake transport, time from a L{Clock}.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.client = PortmapperClient(
            self.clock, Portmapper("127.0.0.1", 1111, (0,), retry=1.0, timeout=3.5)
        )
        self.transport = FakeUDPTransport()
        self.client.makeConnection(self.transport)  # type: ignore[arg-type]

    def sentCalls(self) -> list[Call]:
        return [decodeCall(data) for data in self.transport.written]

    def test_connects(self) -> None:
        """
        The socket is connected to the portmapper.
        """
        self.assertEqual(self.transport.connectedTo, ("127.0.0.1", 1111))

    def test_call(self) -> None:
        """
        A call is sent at once; its reply gives the result.
        """
        result = self.client.call(Procedure.SET, Mapping(300333, 1, 17, 53))
        [call] = self.sentCalls()
        self.assertEqual((call.procedure, call.mapping), (1, Mapping(300333, 1, 17, 53)))
        self.assertNoResult(result)
        self.client.datagramReceived(acceptedReply(call.xid, 1), ("127.0.0.1", 1111))
        self.assertIs(self.successResultOf(result), True)
        self.assertEqual((self.client.pending, self.clock.getDelayedCalls()), ({}, []))

    def test_distinctXids(self) -> None:
        """
        Replies are matched to calls by transaction id, whatever their
        order; others are ignored.
        """
        first = self.client.call(Procedure.SET, Mapping(1, 1, 6, 1))
        second = self.client.call(Procedure.SET, Mapping(1, 2, 6, 1))
        one, two = self.sentCalls()
        self.assertNotEqual(one.xid, two.xid)
        self.client.datagramReceived(acceptedReply(two.xid, 0), None)
        self.client.datagramReceived(acceptedReply(two.xid, 1), None)
        self.client.datagramReceived(acceptedReply((two.xid + 5) % 2**32, 1), None)
        self.client.datagramReceived(b"garbage", None)
        self.assertNoResult(first)
        self.client.datagramReceived(acceptedReply(one.xid, 1), None)
        self.assertEqual((self.successResultOf(first), self.successResultOf(second)), (True, False))

    def test_retransmits(self) -> None:
        """
        An unanswered call is sent again every C{retry} seconds, the same
        bytes each time, and fails with L{TimeoutError} after C{timeout}.
        """
        result = self.client.call(Procedure.UNSET, Mapping(2, 1, 0, 0))
        self.clock.pump([1.0, 1.0, 1.0])
        self.assertEqual(len(self.transport.written), 4)
        self.assertEqual(len(set(self.transport.written)), 1)
        self.assertNoResult(result)
        self.clock.advance(0.5)
        self.failureResultOf(result, TimeoutError)
        self.clock.advance(10)
        self.assertEqual(len(self.transport.written), 4)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_refusedByServer(self) -> None:
        """
        A refused call fails with L{RpcError}.
        """
        result = self.client.call(Procedure.SET, Mapping(2, 1, 6, 1))
        [call] = self.sentCalls()
        self.client.datagramReceived(deniedReply(call.xid, 1, AuthStat.AUTH_TOOWEAK), None)
        self.assertEqual(
            self.failureResultOf(result, RpcError).value.reason, "call rejected: AUTH_TOOWEAK"
        )
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_connectionRefused(self) -> None:
        """
        When nothing listens on the portmapper's port, every pending call
        fails with L{ConnectionRefusedError}.
        """
        results = [self.client.call(Procedure.SET, Mapping(2, v, 6, 1)) for v in (1, 2)]
        self.client.connectionRefused()
        for result in results:
            self.failureResultOf(result, ConnectionRefusedError)
        self.assertEqual(self.clock.getDelayedCalls(), [])


class FakePortmapper(DatagramProtocol):
    """
    A portmapper on 127.0.0.1 that records calls and answers them with
    C{answer}.

    @ivar calls: each call received with its source port.
    """

    def __init__(self, answer: Callable[[Call], bytes | None]) -> None:
        self.answer = answer
        self.calls: list[tuple[Call, int]] = []

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        call = decodeCall(datagram)
        self.calls.append((call, addr[1]))
        reply = self.answer(call)
        if reply is not None and self.transport is not None:
            self.transport.write(reply, addr)


def agree(call: Call) -> bytes:
    return acceptedReply(call.xid, 1)


def freeUdpPort() -> int:
    """
    A UDP port on which nothing listens now.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RegisterTests(TestCase):
    """
    L{register} and L{unregister} on the real reactor.
    """

    def portmapper(
        self, answer: Callable[[Call], bytes | None] = agree, **options: Any
    ) -> tuple[FakePortmapper, Portmapper]:
        """
        Start a fake portmapper.

        @return: it, and a L{Portmapper} that reaches it from any port.
        """
        fake = FakePortmapper(answer)
        port = reactor.listenUDP(0, fake, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        settings = {"sourcePorts": (0,), "retry": 0.05, "timeout": 0.3, **options}
        return fake, Portmapper("127.0.0.1", port.getHost().port, **settings)

    def test_register(self) -> Deferred[None]:
        """
        Every version is mapped to the port, for the protocol.
        """
        fake, where = self.portmapper()

        def check(results: list[tuple[int, bool]]) -> None:
            self.assertEqual(results, [(1, True), (2, True)])
            self.assertEqual(
                [(call.procedure, call.mapping) for call, _ in fake.calls],
                [(1, Mapping(300333, 1, 6, 4444)), (1, Mapping(300333, 2, 6, 4444))],
            )
            self.assertTrue(all(source >= 1024 for _, source in fake.calls))

        return register(reactor, 300333, range(1, 3), "tcp", 4444, where).addCallback(check)

    def test_unregister(self) -> Deferred[None]:
        """
        Every version is unmapped; protocol and port are zero.
        """
        fake, where = self.portmapper()

        def check(results: list[tuple[int, bool]]) -> None:
            self.assertEqual(results, [(4, True)])
            self.assertEqual(
                [(call.procedure, call.mapping) for call, _ in fake.calls],
                [(2, Mapping(100001, 4, 0, 0))],
            )

        return unregister(reactor, 100001, [4], where).addCallback(check)

    def test_someRefused(self) -> Deferred[None]:
        """
        A version the portmapper answers C{FALSE} or refuses is not ok.
        """

        def answer(call: Call) -> bytes:
            if call.mapping.version == 2:
                return acceptedReply(call.xid, 0)
            if call.mapping.version == 3:
                return deniedReply(call.xid, 1, AuthStat.AUTH_TOOWEAK)
            return acceptedReply(call.xid, 1)

        _, where = self.portmapper(answer)
        result = register(reactor, 7, range(1, 4), "udp", 53, where)
        return result.addCallback(self.assertEqual, [(1, True), (2, False), (3, False)])

    def test_noAnswer(self) -> Deferred[None]:
        """
        An unanswered call is retransmitted, then given up: not ok.
        """
        fake, where = self.portmapper(lambda call: None)

        def check(results: list[tuple[int, bool]]) -> None:
            self.assertEqual(results, [(1, False)])
            self.assertGreaterEqual(len(fake.calls), 3)
            self.assertEqual(len({call.xid for call, _ in fake.calls}), 1)

        return register(reactor, 7, [1], "tcp", 1, where).addCallback(check)

    def test_noPortmapper(self) -> Deferred[None]:
        """
        Without a portmapper every version fails at once.
        """
        where = Portmapper("127.0.0.1", freeUdpPort(), (0,), retry=0.05, timeout=30)
        result = register(reactor, 7, [1, 2], "tcp", 1, where)
        return result.addCallback(self.assertEqual, [(1, False), (2, False)])

    def test_busySourcePortSkipped(self) -> Deferred[None]:
        """
        A source port that is taken is skipped for the next one.
        """
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
            busy.bind(("", 0))
            taken = busy.getsockname()[1]
            fake, where = self.portmapper(sourcePorts=(taken, 0))
            result = register(reactor, 7, [1], "tcp", 1, where)

        def check(results: list[tuple[int, bool]]) -> None:
            self.assertEqual(results, [(1, True)])
            [(_, source)] = fake.calls
            self.assertNotEqual(source, taken)

        return result.addCallback(check)

    def test_noSourcePort(self) -> None:
        """
        When no source port can be bound, nothing is sent and every version
        fails.
        """
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
            busy.bind(("", 0))
            fake, where = self.portmapper(sourcePorts=(busy.getsockname()[1],))
            result = register(reactor, 7, [1, 2], "tcp", 1, where)
        self.assertEqual(self.successResultOf(result), [(1, False), (2, False)])
        self.assertEqual(fake.calls, [])

    def test_reservedSourcePort(self) -> Deferred[None]:
        """
        Calls made from L{RESERVED_PORTS} come from a port below 1024.
        """
        if os.geteuid() != 0:
            self.skipTest("binding a port below 1024 needs root")
        fake, where = self.portmapper(sourcePorts=RESERVED_PORTS)

        def check(results: list[tuple[int, bool]]) -> None:
            self.assertEqual(results, [(1, True)])
            [(_, source)] = fake.calls
            self.assertIn(source, RESERVED_PORTS)

        return register(reactor, 7, [1], "tcp", 1, where).addCallback(check)

    def test_badProtocol(self) -> None:
        """
        Only tcp and udp services can be registered.
        """
        self.assertRaises(ValueError, register, reactor, 7, [1], "sctp", 1)


class SourcePortsTests(SynchronousTestCase):
    """
    L{defaultSourcePorts}.
    """

    def test_root(self) -> None:
        """
        As root, the calls come from a reserved port.
        """
        self.patch(os, "geteuid", lambda: 0)
        self.assertEqual(defaultSourcePorts(), RESERVED_PORTS)
        self.assertEqual(Portmapper().sourcePorts, RESERVED_PORTS)
        self.assertEqual((min(RESERVED_PORTS), max(RESERVED_PORTS)), (600, 1023))

    def test_user(self) -> None:
        """
        Otherwise from any port.
        """
        self.patch(os, "geteuid", lambda: 1000)
        self.assertEqual(defaultSourcePorts(), (0,))


RPC_CONFIG = """\
service rstatd
{
    type = RPC
    socket_type = dgram
    protocol = udp
    wait = yes
    user = root
    server = /bin/cat
    rpc_version = 2-4
}
service mine
{
    type = RPC UNLISTED
    socket_type = stream
    protocol = tcp
    wait = no
    user = root
    server = /bin/cat
    rpc_version = 3
    rpc_number = 300333
}
"""


class ServiceTests(SynchronousTestCase):
    """
    L{rpcVersions}, L{rpcProgram} and L{pmapSetFailed}.
    """

    def setUp(self) -> None:
        files = ConfigFiles(self)
        files.write("xinetd.conf", RPC_CONFIG)
        config = files.load()
        self.assertEqual(config.errors, ())
        self.rstatd, self.mine = config.services

    def lookup(self, name: str) -> int | None:
        return {"rstatd": 100001, "mine": 999}.get(name)

    def test_versions(self) -> None:
        """
        C{N-M} gives N to M; C{N} gives N alone.
        """
        self.assertEqual(list(rpcVersions(self.rstatd)), [2, 3, 4])
        self.assertEqual(list(rpcVersions(self.mine)), [3])

    def test_noVersions(self) -> None:
        """
        A service without C{rpc_version} has no versions.
        """
        other = replace(self.mine, rpc_version=None)
        self.assertEqual(list(rpcVersions(other)), [])

    def test_program(self) -> None:
        """
        A listed service's program comes from /etc/rpc; an unlisted one's
        from C{rpc_number}.
        """
        self.assertEqual(rpcProgram(self.rstatd, self.lookup), 100001)
        self.assertEqual(rpcProgram(self.mine, self.lookup), 300333)

    def test_failureMessage(self) -> None:
        """
        xinetd's message for a version that could not be registered.
        """
        self.assertEqual(
            pmapSetFailed("rstatd", 100001, 3),
            "pmap_set failed. service=rstatd program=100001 version=3",
        )


class RpcFileTests(SynchronousTestCase):
    """
    L{readRpcFile} reads /etc/rpc's format.
    """

    def test_readRpcFile(self) -> None:
        """
        /etc/rpc lines give a number for the name and every alias.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("# comment\nrstatd\t100001\trstat rup perfmeter # stats\n")
            f.write("\nbad line\nportmapper 100000\n")
        self.assertEqual(
            readRpcFile(path),
            {
                "rstatd": 100001,
                "rstat": 100001,
                "rup": 100001,
                "perfmeter": 100001,
                "portmapper": 100000,
            },
        )
        self.assertEqual(readRpcFile(self.mktemp()), {})
