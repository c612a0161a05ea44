# -*- test-case-name: tests.builtins.test_simple -*-
"""
txinetd's built-in (C{type = INTERNAL}) services and their lookup.

Each built-in is one object per (service name, socket type) that provides
L{IInternalService} and L{IPlugin}: echo, discard, chargen, daytime and time,
for C{stream} and C{dgram}.  The plugin module C{twisted/plugins/txinetd_internal.py}
registers them; third-party plugin modules register more the same way, for
instance with L{StreamService} and L{DatagramService}.  All of them run inside
txinetd's process.
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from twisted.internet.interfaces import (
    IConsumer,
    IHalfCloseableProtocol,
    IProtocol,
    IPullProducer,
    IPushProducer,
    IReactorTime,
)
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.plugin import IPlugin, getCache
from twisted.python.failure import Failure
from zope.interface import implementer

import twisted.plugins
from txinetd.interfaces import IInternalService

_log = Logger()

STREAM = "stream"
DGRAM = "dgram"

ECHO_DATAGRAM_LIMIT = 2048
"""The longest reply of dgram echo; longer datagrams are truncated."""

CHARGEN_DATAGRAM_SIZE = 1024
"""The size of every dgram chargen reply."""

CHARGEN_LINE_WIDTH = 72
"""Printable characters in one chargen line (the line ends with CR LF)."""

CHARGEN_PERIOD = 95
"""chargen's lines repeat after this many lines."""

_CHARGEN_ALPHABET = bytes(range(0x21, 0x7E))
_CHARGEN_BLOCK_PERIODS = 8
_TIME_OFFSET = 2208988800
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_LOWEST_ANSWERED_PORT = 1024


@dataclass(frozen=True)
class InternalContext:
    """
    What an internal service knows about the service it runs for.

    @ivar reactor: the clock; C{reactor.seconds()} is "now".
    @ivar serviceId: the service's id, for log and debug messages only.
    @ivar peer: the client's C{(host, port)}, the host normalised (C{1.2.3.4},
        never C{::ffff:1.2.3.4}), or L{None} when unknown.
    @ivar view: a read-only view of the daemon (its services and running
        servers), for services that report on it; L{None} when there is none.
    """

    reactor: IReactorTime
    serviceId: str
    peer: tuple[str, int] | None
    view: Any = None


ProtocolFactory = Callable[[InternalContext], IProtocol]
DatagramAnswer = Callable[[bytes, InternalContext], bytes | None]


@implementer(IPlugin, IInternalService)
@dataclass(frozen=True)
class StreamService:
    """
    A C{stream} internal service made of a name and a protocol factory.

    @ivar name: the service name, in lower case.
    @ivar protocolFactory: builds the protocol of one connection.
    """

    name: str
    protocolFactory: ProtocolFactory
    socketType: ClassVar[str] = STREAM
    #: For a service that only sends a reply and closes: the reply, so that
    #: txinetd can answer without building a transport.
    reply: Callable[[InternalContext], bytes] | None = None
    #: For a service whose whole answer depends only on what the client
    #: sent, and which closes when the client stops sending (echo,
    #: discard): that answer, so that txinetd can serve a client that has
    #: already sent everything without building a transport.
    answer: Callable[[bytes], bytes] | None = None

    def buildProtocol(self, context: InternalContext) -> IProtocol:
        """
        Build the protocol for one accepted connection.

        @param context: the service's context.
        @return: a new protocol.
        """
        return self.protocolFactory(context)

    def answerDatagram(self, data: bytes, context: InternalContext) -> bytes | None:
        """
        Refuse to answer: a stream service has no datagrams.

        @raise TypeError: always.
        """
        raise TypeError(f"{self.name}/{self.socketType} does not answer datagrams")


@implementer(IPlugin, IInternalService)
@dataclass(frozen=True)
class DatagramService:
    """
    A C{dgram} internal service made of a name and an answering function.

    @ivar name: the service name, in lower case.
    @ivar answer: computes the reply to one datagram, L{None} for no reply.
    """

    name: str
    answer: DatagramAnswer
    socketType: ClassVar[str] = DGRAM

    def buildProtocol(self, context: InternalContext) -> IProtocol:
        """
        Refuse to build a protocol: a dgram service has no connections.

        @raise TypeError: always.
        """
        raise TypeError(f"{self.name}/{self.socketType} does not accept connections")

    def answerDatagram(self, data: bytes, context: InternalContext) -> bytes | None:
        """
        Answer one datagram.

        @param data: the datagram's payload.
        @param context: the service's context.
        @return: the reply's payload (possibly empty), or L{None} for no reply.
        """
        return self.answer(data, context)


def shouldAnswer(port: int) -> bool:
    """
    Decide whether an internal dgram service may answer a datagram.

    Datagrams from source ports below 1024 are never answered, so that two
    services (echo, chargen) cannot be made to bounce packets at each other.

    @param port: the datagram's source port.
    @return: C{True} when a reply may be sent.
    """
    return port >= _LOWEST_ANSWERED_PORT


def daytimeLine(seconds: float) -> bytes:
    """
    Format the daytime reply, C{DD MON YYYY HH:MM:SS ZZZ\\r\\n}, in local time.

    @param seconds: the instant, in seconds since the Unix epoch.
    @return: the line; the month is upper-case English whatever the locale,
        the zone is C{time.strftime('%Z')} for that local time.
    """
    key = (math.floor(seconds), time.timezone, time.tzname)
    last = _lastDaytime
    if last[0] != key:
        local = time.localtime(key[0])
        zone = time.strftime("%Z", local)
        line = (
            f"{local.tm_mday:02d} {_MONTHS[local.tm_mon - 1]} {local.tm_year} "
            f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d} {zone}\r\n"
        )
        last[:] = [key, line.encode("ascii", "replace")]
    reply: bytes = last[1]
    return reply


#: The last daytime line made, and the second and zone it is for (a busy
#: service answers many clients in one second).
_lastDaytime: list[Any] = [None, b""]


def timeBytes(seconds: float) -> bytes:
    """
    Format the time reply: seconds since 1900-01-01 00:00 UTC, as 4 bytes.

    @param seconds: the instant, in seconds since the Unix epoch.
    @return: 4 bytes, big-endian, modulo 2**32 (so it wraps in 2036).
    """
    return struct.pack("!I", (math.floor(seconds) + _TIME_OFFSET) % 2**32)


def chargenLine(index: int, width: int = CHARGEN_LINE_WIDTH) -> bytes:
    """
    Build one chargen line.

    @param index: the line's number; lines repeat every L{CHARGEN_PERIOD}.
    @param width: how many characters before the CR LF (at most 72).
    @return: C{width} characters of the 93-character alphabet C{'!'}..C{'}'},
        starting at the line's offset, then CR LF.
    """
    start = index % CHARGEN_PERIOD % len(_CHARGEN_ALPHABET)
    return (_CHARGEN_ALPHABET * 2)[start : start + width] + b"\r\n"


def chargenLines(first: int, count: int) -> bytes:
    """
    Build consecutive full chargen lines.

    @param first: the number of the first line.
    @param count: how many lines.
    @return: the lines, each 72 characters and CR LF.
    """
    return b"".join(chargenLine(index) for index in range(first, first + count))


def _loseConnection(protocol: Protocol) -> None:
    if protocol.transport is not None:
        protocol.transport.loseConnection()


@implementer(IPullProducer, IHalfCloseableProtocol)
class ChargenProtocol(Protocol):
    """
    The stream chargen protocol: lines without end, input ignored.

    It writes through a pull producer: one block of lines each time the
    transport asks for more, so a slow client never makes txinetd buffer more
    than one block.  Every block is a whole number of periods, hence the same.
    The lines go on after the client stops sending, until it is gone.
    """

    def __init__(self, firstLine: int) -> None:
        """
        @param firstLine: the number of the first line to send.
        """
        self.block = chargenLines(firstLine, CHARGEN_PERIOD * _CHARGEN_BLOCK_PERIODS)
        self.stopped = False

    def connectionMade(self) -> None:
        IConsumer(self.transport).registerProducer(self, False)

    def resumeProducing(self) -> None:
        """
        Write one block, unless the connection is gone.
        """
        if not self.stopped and self.transport is not None:
            self.transport.write(self.block)

    def stopProducing(self) -> None:
        """
        Write nothing more.
        """
        self.stopped = True

    def dataReceived(self, data: bytes) -> None:
        """
        Ignore the client's input.
        """

    def readConnectionLost(self) -> None:
        """
        The client sends no more; the lines go on.
        """

    def writeConnectionLost(self) -> None:
        """
        Nothing can be written any more: close.
        """
        _loseConnection(self)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.stopProducing()


class CharacterGenerator:
    """
    chargen's line counter, shared by the stream and the dgram chargen.

    Only dgram chargen advances it; each stream connection starts at its
    current position and counts on its own.

    @ivar line: the number of the next line, modulo L{CHARGEN_PERIOD}.
    """

    def __init__(self) -> None:
        self.line = 0

    def buildProtocol(self, context: InternalContext) -> IProtocol:
        """
        Build a stream chargen protocol starting at the current line.

        @param context: the service's context (unused).
        @return: a new L{ChargenProtocol}.
        """
        return ChargenProtocol(self.line)

    def answerDatagram(self, data: bytes, context: InternalContext) -> bytes:
        """
        Build one dgram chargen reply and advance the counter by its lines.

        @param data: the datagram's payload (ignored).
        @param context: the service's context (unused).
        @return: L{CHARGEN_DATAGRAM_SIZE} bytes: 13 full lines and a line of
            60 characters, each with CR LF.
        """
        fullLines, rest = divmod(CHARGEN_DATAGRAM_SIZE, CHARGEN_LINE_WIDTH + 2)
        reply = chargenLines(self.line, fullLines)
        reply += chargenLine(self.line + fullLines, rest - 2)
        self.line = (self.line + fullLines + 1) % CHARGEN_PERIOD
        return reply


@implementer(IHalfCloseableProtocol)
class DiscardProtocol(Protocol):
    """
    The stream discard protocol: read and discard until the client closes.
    """

    def dataReceived(self, data: bytes) -> None:
        """
        Discard the client's input.
        """

    def readConnectionLost(self) -> None:
        """
        The client sends no more: close.
        """
        _loseConnection(self)

    def writeConnectionLost(self) -> None:
        """
        Nothing can be written any more: close.
        """
        _loseConnection(self)


class EchoProtocol(DiscardProtocol):
    """
    The stream echo protocol: send back everything until the client closes.

    The transport is its own producer: when the client does not read its
    echo, reading from it pauses until the echo drains.
    """

    def connectionMade(self) -> None:
        IConsumer(self.transport).registerProducer(IPushProducer(self.transport), True)

    def dataReceived(self, data: bytes) -> None:
        """
        Echo the client's input.
        """
        if self.transport is not None:
            self.transport.write(data)


class WriteAndCloseProtocol(Protocol):
    """
    Write one reply as soon as the connection is made, then close.
    """

    def __init__(self, reply: bytes) -> None:
        """
        @param reply: the bytes to send.
        """
        self.reply = reply

    def connectionMade(self) -> None:
        if self.transport is not None:
            self.transport.write(self.reply)
            self.transport.loseConnection()


def _replyService(name: str, answer: Callable[[bytes, InternalContext], bytes]) -> StreamService:
    """
    A stream service that sends its dgram sibling's answer to an empty
    datagram, then closes: as a L{StreamService.reply} (sent without a
    transport) and as a protocol for those who build one.
    """

    def reply(context: InternalContext) -> bytes:
        return answer(b"", context)

    return StreamService(name, lambda context: WriteAndCloseProtocol(reply(context)), reply)


def _echo(data: bytes, context: InternalContext) -> bytes:
    return data[:ECHO_DATAGRAM_LIMIT]


def _discard(data: bytes, context: InternalContext) -> None:
    return None


def _daytime(data: bytes, context: InternalContext) -> bytes:
    return daytimeLine(context.reactor.seconds())


def _time(data: bytes, context: InternalContext) -> bytes:
    return timeBytes(context.reactor.seconds())


_chargen = CharacterGenerator()


def _same(data: bytes) -> bytes:
    return data


def _nothing(data: bytes) -> bytes:
    return b""


echoStream = StreamService("echo", lambda context: EchoProtocol(), answer=_same)
echoDgram = DatagramService("echo", _echo)
discardStream = StreamService("discard", lambda context: DiscardProtocol(), answer=_nothing)
discardDgram = DatagramService("discard", _discard)
chargenStream = StreamService("chargen", _chargen.buildProtocol)
chargenDgram = DatagramService("chargen", _chargen.answerDatagram)
daytimeStream = _replyService("daytime", _daytime)
daytimeDgram = DatagramService("daytime", _daytime)
timeStream = _replyService("time", _time)
timeDgram = DatagramService("time", _time)

BUILTINS: tuple[IInternalService, ...] = (
    echoStream,
    echoDgram,
    discardStream,
    discardDgram,
    chargenStream,
    chargenDgram,
    daytimeStream,
    daytimeDgram,
    timeStream,
    timeDgram,
)
"""txinetd's own internal services, the ones its plugin module registers."""

#: What a C{flags = SENSOR} service runs, by socket type: a discard
#: (txinetd refuses and lists every client of such a service before it
#: would run).  Not a plugin: no service can name it without the flag.
SENSORS: dict[str, IInternalService] = {
    "stream": StreamService("sensor", lambda context: DiscardProtocol()),
    "dgram": DatagramService("sensor", _discard),
}


def _isBuiltin(service: IInternalService) -> bool:
    return any(service is builtin for builtin in BUILTINS)


def _installedServices() -> Iterator[IInternalService]:
    """
    Load every installed L{IInternalService} plugin, in a stable order.

    Plugin modules are taken in the order of their names, the objects of a
    module in the order of the names they are bound to.  A plugin that
    cannot be loaded is logged and skipped.
    """
    dropins = getCache(twisted.plugins)  # type: ignore[no-untyped-call]
    for _moduleName, dropin in sorted(dropins.items()):
        for plugin in sorted(dropin.plugins, key=lambda plugin: plugin.name):
            try:
                service = IInternalService(plugin, None)
            except Exception:
                _log.failure("Cannot load the plugin {name}", name=plugin.name)
            else:
                if service is not None:
                    yield service


def _candidates(plugins: Iterable[IInternalService] | None) -> Iterable[IInternalService]:
    return _installedServices() if plugins is None else plugins


def _byPreference(plugins: Iterable[IInternalService] | None) -> list[IInternalService]:
    """
    Order internal services by preference: txinetd's own first, then the
    others in their given (or installed) order.
    """
    return sorted(_candidates(plugins), key=lambda service: not _isBuiltin(service))


class InternalServices:
    """
    The internal services installed now, looked up by name and socket type
    in constant time.  Build one per configuration load: reading the plugin
    cache is far slower than a look-up.
    """

    def __init__(self, plugins: Iterable[IInternalService] | None = None) -> None:
        self.table: dict[tuple[str, str], IInternalService] = {}
        for service in _byPreference(plugins):
            self.table.setdefault((service.name.lower(), service.socketType), service)

    def find(self, name: str, socketType: str) -> IInternalService | None:
        """
        The service for a name (in any case) and a socket type, or L{None}.
        """
        return self.table.get((name.lower(), socketType))

    def exists(self, name: str, socketType: str) -> bool:
        """
        Whether L{find} finds one.
        """
        return (name.lower(), socketType) in self.table
