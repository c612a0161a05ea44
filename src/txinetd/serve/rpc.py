# -*- test-case-name: tests.serve.test_rpc -*-
"""
Registering C{type = RPC} services with the local portmapper.

txinetd speaks the portmapper protocol itself (program 100000 version 2,
RFC 1833; messages of RFC 5531 in XDR): C{PMAP_SET} maps a program version
and protocol to the service's port, C{PMAP_UNSET} removes a program
version's mappings.  The calls go over UDP to 127.0.0.1 port 111 with
C{AUTH_NONE} credentials, are retransmitted every second and given up after
a few seconds, all in the reactor: nothing waits for the portmapper.

rpcbind accepts these calls from a local address and records who made
them: a call from a port below 1024 is the superuser's, any other call an
unknown user's, which the superuser's calls (and libtirpc's C{pmap_set}
over rpcbind's local socket) may then replace or remove.  So when txinetd
runs as root its calls come from a reserved port, as xinetd's do.

rpcbind answers C{PMAP_UNSET} with C{TRUE} even when it removed nothing
because the mapping belongs to another owner; and C{PMAP_UNSET} removes the
program version's mappings for every protocol.
"""

from __future__ import annotations

import enum
import os
import secrets
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IDelayedCall, IListeningPort
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from txinetd.core.config import ServiceConfig
from txinetd.core.values import ServiceType

log = Logger(namespace="txinetd")

#: The RPC programs' names and numbers.
RPC_FILE = "/etc/rpc"
PMAP_PROGRAM = 100000
PMAP_VERSION = 2
PMAP_PORT = 111
#: The IP protocol numbers a mapping names.
PROTOCOLS = {"tcp": 6, "udp": 17}
#: The source ports tried, in order, when the calls must come from a
#: reserved port.
RESERVED_PORTS = range(1023, 599, -1)

_RPC_VERSION = 2
_CALL = 0
_REPLY = 1
_AUTH_NONE = 0
_MAX_AUTH_BODY = 400
_UINT = struct.Struct("!I")


class Procedure(enum.IntEnum):
    """
    The portmapper procedures txinetd calls.
    """

    SET = 1
    UNSET = 2


class _ReplyStat(enum.IntEnum):
    ACCEPTED = 0
    DENIED = 1


class AcceptStat(enum.IntEnum):
    """
    Why an accepted call did not run (C{accept_stat}).
    """

    SUCCESS = 0
    PROG_UNAVAIL = 1
    PROG_MISMATCH = 2
    PROC_UNAVAIL = 3
    GARBAGE_ARGS = 4
    SYSTEM_ERR = 5


class _RejectStat(enum.IntEnum):
    RPC_MISMATCH = 0
    AUTH_ERROR = 1


class AuthStat(enum.IntEnum):
    """
    Why a call's credentials were refused (C{auth_stat}).
    """

    AUTH_OK = 0
    AUTH_BADCRED = 1
    AUTH_REJECTEDCRED = 2
    AUTH_BADVERF = 3
    AUTH_REJECTEDVERF = 4
    AUTH_TOOWEAK = 5
    AUTH_INVALIDRESP = 6
    AUTH_FAILED = 7


@dataclass(frozen=True)
class Mapping:
    """
    The argument of C{PMAP_SET} and C{PMAP_UNSET}.

    @ivar protocol: an IP protocol number (L{PROTOCOLS}); ignored by UNSET.
    @ivar port: the port; ignored by UNSET.
    """

    program: int
    version: int
    protocol: int
    port: int


class RpcError(Exception):
    """
    The portmapper refused a call or could not run it.

    @ivar xid: the call's transaction id.
    @ivar reason: what went wrong, in words.
    """

    def __init__(self, xid: int, reason: str) -> None:
        super().__init__(xid, reason)
        self.xid = xid
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def encodeCall(xid: int, procedure: Procedure, mapping: Mapping) -> bytes:
    """
    The XDR bytes of a portmapper call with C{AUTH_NONE} credentials.
    """
    header = (xid, _CALL, _RPC_VERSION, PMAP_PROGRAM, PMAP_VERSION, int(procedure))
    noAuth = (_AUTH_NONE, 0, _AUTH_NONE, 0)
    arguments = (mapping.program, mapping.version, mapping.protocol, mapping.port)
    return struct.pack("!14I", *header, *noAuth, *arguments)


class _XdrReader:
    """
    Reads XDR items off a message; running short raises L{ValueError}.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def uint(self) -> int:
        try:
            (value,) = _UINT.unpack_from(self.data, self.offset)
        except struct.error as e:
            raise ValueError("the message is too short") from e
        self.offset += _UINT.size
        return int(value)

    def skipAuth(self) -> None:
        """
        Skip an C{opaque_auth}: a flavor and a body of at most 400 bytes.
        """
        self.uint()
        length = self.uint()
        padded = (length + 3) // 4 * 4
        if length > _MAX_AUTH_BODY or self.offset + padded > len(self.data):
            raise ValueError("bad verifier length")
        self.offset += padded


def _statName(kind: type[enum.IntEnum], value: int) -> str:
    try:
        return kind(value).name
    except ValueError:
        return f"{kind.__name__} {value}"


def _denial(reader: _XdrReader) -> str:
    stat = reader.uint()
    if stat == _RejectStat.RPC_MISMATCH:
        low, high = reader.uint(), reader.uint()
        return f"call rejected: RPC version mismatch (versions {low} to {high})"
    if stat == _RejectStat.AUTH_ERROR:
        return f"call rejected: {_statName(AuthStat, reader.uint())}"
    raise ValueError(f"unknown reject_stat {stat}")


def _acceptError(stat: int, reader: _XdrReader) -> str:
    reason = f"call not run: {_statName(AcceptStat, stat)}"
    if stat == AcceptStat.PROG_MISMATCH:
        low, high = reader.uint(), reader.uint()
        reason += f" (versions {low} to {high})"
    return reason


def decodeReply(data: bytes) -> tuple[int, bool]:
    """
    Read a portmapper reply to C{PMAP_SET} or C{PMAP_UNSET}.

    @return: the transaction id and the procedure's boolean result.
    @raise RpcError: the call was refused or did not run.
    @raise ValueError: C{data} is not such a reply.
    """
    reader = _XdrReader(data)
    xid = reader.uint()
    if reader.uint() != _REPLY:
        raise ValueError("not a reply")
    stat = reader.uint()
    if stat == _ReplyStat.DENIED:
        raise RpcError(xid, _denial(reader))
    if stat != _ReplyStat.ACCEPTED:
        raise ValueError(f"unknown reply_stat {stat}")
    reader.skipAuth()
    accepted = reader.uint()
    if accepted != AcceptStat.SUCCESS:
        raise RpcError(xid, _acceptError(accepted, reader))
    result = reader.uint()
    if result > 1:
        raise ValueError(f"bad boolean {result}")
    return xid, bool(result)


def defaultSourcePorts() -> Sequence[int]:
    """
    L{RESERVED_PORTS} when running as root, else any port (C{0}).
    """
    return RESERVED_PORTS if os.geteuid() == 0 else (0,)


@dataclass(frozen=True)
class Portmapper:
    """
    Where the portmapper is and how to call it.

    @ivar host: its IP address.
    @ivar port: its UDP port.
    @ivar sourcePorts: the local ports to try, in order (C{0}: any).
    @ivar retry: seconds between retransmissions of a call.
    @ivar timeout: seconds before a call is given up.
    """

    host: str = "127.0.0.1"
    port: int = PMAP_PORT
    sourcePorts: Sequence[int] = field(default_factory=defaultSourcePorts)
    retry: float = 1.0
    timeout: float = 5.0


@dataclass
class _Call:
    result: Deferred[bool]
    message: bytes
    retry: IDelayedCall | None = None
    expiry: IDelayedCall | None = None

    def stopTimers(self) -> None:
        for timer in (self.retry, self.expiry):
            if timer is not None and timer.active():
                timer.cancel()


class PortmapperClient(DatagramProtocol):
    """
    Makes portmapper calls over a UDP socket connected to the portmapper,
    matching replies to calls by transaction id.

    @ivar pending: the calls waiting for their reply, by transaction id.
    """

    noisy = False

    def __init__(self, clock: Any, portmapper: Portmapper) -> None:
        """
        @param clock: an L{IReactorTime} provider.
        @param portmapper: where to send the calls, and their timing.
        """
        self.clock = clock
        self.portmapper = portmapper
        self.nextXid = secrets.randbits(32)
        self.pending: dict[int, _Call] = {}

    def startProtocol(self) -> None:
        assert self.transport is not None
        self.transport.connect(self.portmapper.host, self.portmapper.port)

    def call(self, procedure: Procedure, mapping: Mapping) -> Deferred[bool]:
        """
        Call C{procedure} with C{mapping}.

        @return: a L{Deferred} that fires with the procedure's result, or
            fails with L{RpcError}, the built-in L{TimeoutError} or
            L{ConnectionRefusedError} (nothing listens on the portmapper's
            port).
        """
        xid = self.nextXid
        self.nextXid = (xid + 1) % 2**32
        call = _Call(Deferred(), encodeCall(xid, procedure, mapping))
        self.pending[xid] = call
        call.expiry = self.clock.callLater(
            self.portmapper.timeout, self._fail, xid, TimeoutError("no reply from the portmapper")
        )
        self._send(xid)
        return call.result

    def _send(self, xid: int) -> None:
        call = self.pending.get(xid)
        if call is None or self.transport is None:
            return
        call.retry = self.clock.callLater(self.portmapper.retry, self._send, xid)
        self.transport.write(call.message, None)

    def _finish(self, xid: int) -> _Call | None:
        call = self.pending.pop(xid, None)
        if call is not None:
            call.stopTimers()
        return call

    def _fail(self, xid: int, reason: BaseException) -> None:
        call = self._finish(xid)
        if call is not None:
            call.result.errback(reason)

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        try:
            xid, result = decodeReply(datagram)
        except RpcError as e:
            self._fail(e.xid, e)
            return
        except ValueError as e:
            log.debug("Ignoring a bad portmapper reply: {reason}", reason=str(e))
            return
        call = self._finish(xid)
        if call is not None:
            call.result.callback(result)

    def connectionRefused(self) -> None:
        for xid in list(self.pending):
            self._fail(xid, ConnectionRefusedError("nothing listens on the portmapper's port"))


def _listen(reactor: Any, client: PortmapperClient) -> IListeningPort:
    """
    Bind the client's socket to the first free port of its source ports.

    @raise OSError: if none is free.
    """
    portmapper = client.portmapper
    interface = "::" if ":" in portmapper.host else ""
    reason: object = "no source port to try"
    for port in portmapper.sourcePorts:
        try:
            listening: IListeningPort = reactor.listenUDP(port, client, interface=interface)
        except CannotListenError as e:
            reason = e
        else:
            return listening
    raise OSError(f"cannot bind a source port: {reason}")


Results = list[tuple[int, bool]]


def _callEach(
    reactor: Any, procedure: Procedure, mappings: list[Mapping], portmapper: Portmapper
) -> Deferred[Results]:
    """
    Make one call per mapping from one socket.

    @return: a L{Deferred} that fires, once every call has ended, with
        C{(version, ok)} per mapping; a call that failed is logged and not
        ok.  It never fails.
    """
    client = PortmapperClient(reactor, portmapper)
    try:
        listening = _listen(reactor, client)
    except OSError as e:
        log.debug("Cannot call the portmapper: {reason}", reason=str(e))
        return succeed([(mapping.version, False) for mapping in mappings])

    def failed(reason: Failure, mapping: Mapping) -> bool:
        log.debug(
            "Portmapper {procedure} of program {program} version {version} failed: {reason}",
            procedure=procedure.name,
            program=mapping.program,
            version=mapping.version,
            reason=reason.getErrorMessage(),
        )
        return False

    calls = [client.call(procedure, mapping).addErrback(failed, mapping) for mapping in mappings]

    def done(results: list[bool]) -> Deferred[Results]:
        outcome = [(mapping.version, ok) for mapping, ok in zip(mappings, results, strict=True)]
        stopped = listening.stopListening()
        return (stopped or succeed(None)).addCallback(lambda _: outcome)

    return gatherResults(calls).addCallback(done)


def register(
    reactor: Any,
    program: int,
    versions: Iterable[int],
    protocol: str,
    port: int,
    portmapper: Portmapper | None = None,
) -> Deferred[Results]:
    """
    Map every version of a program to a port (C{PMAP_SET}).

    @param reactor: an L{IReactorUDP} and L{IReactorTime} provider.
    @param protocol: C{'tcp'} or C{'udp'}.
    @param portmapper: where the portmapper is; by default 127.0.0.1:111,
        called from a reserved port when running as root.
    @return: a L{Deferred} that fires with C{(version, ok)} for each
        version, in order; it never fails.
    @raise ValueError: for another protocol.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"RPC over {protocol} cannot be registered")
    mappings = [Mapping(program, version, PROTOCOLS[protocol], port) for version in versions]
    return _callEach(reactor, Procedure.SET, mappings, portmapper or Portmapper())


def unregister(
    reactor: Any, program: int, versions: Iterable[int], portmapper: Portmapper | None = None
) -> Deferred[Results]:
    """
    Remove every mapping of each version of a program (C{PMAP_UNSET}), for
    every protocol.

    @param reactor: an L{IReactorUDP} and L{IReactorTime} provider.
    @param portmapper: as for L{register}.
    @return: a L{Deferred} that fires with C{(version, ok)} for each
        version, in order; it never fails.
    """
    mappings = [Mapping(program, version, 0, 0) for version in versions]
    return _callEach(reactor, Procedure.UNSET, mappings, portmapper or Portmapper())


def rpcVersions(config: ServiceConfig) -> range:
    """
    The versions of an RPC service's C{rpc_version} (empty without one).
    """
    if config.rpc_version is None:
        return range(0)
    low, high = config.rpc_version
    return range(low, high + 1)


def readRpcFile(path: str) -> dict[str, int]:
    """
    Program names and aliases of an /etc/rpc file, with their numbers.
    """
    table: dict[str, int] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                words = line.split("#", 1)[0].split()
                if len(words) >= 2 and words[1].isdigit():
                    for name in [words[0], *words[2:]]:
                        table.setdefault(name, int(words[1]))
    except OSError:
        pass
    return table


def rpcByName(name: str) -> int | None:
    """
    The program number of a name (or alias) in this machine's /etc/rpc, or
    L{None}.
    """
    return readRpcFile(RPC_FILE).get(name)


def rpcProgram(config: ServiceConfig, rpcByName: Callable[[str], int | None]) -> int | None:
    """
    An RPC service's program number: C{rpc_number} for an UNLISTED
    service, else its name's number in /etc/rpc.

    @param rpcByName: looks a name up in /etc/rpc.
    """
    if ServiceType.UNLISTED in config.type:
        return config.rpc_number
    return rpcByName(config.name)


def pmapSetFailed(serviceId: str, program: int, version: int) -> str:
    """
    The ERROR line logged for a version that could not be registered.
    """
    return f"pmap_set failed. service={serviceId} program={program} version={version}"
