# -*- test-case-name: tests.daemon.test_monitor -*-
"""
The metrics endpoint (C{--metrics ENDPOINT}): an HTTP server on a Twisted
server endpoint description (C{tcp:9101:interface=127.0.0.1},
C{unix:/run/txinetd/metrics:mode=600}) that answers C{GET /metrics} with
the Prometheus text format (or OpenMetrics, when the scraper asks for it)
and C{GET /status} with the daemon's state as JSON (L{txinetd.daemon.status}).
docs/monitoring.md lists every metric.

The metrics are made when they are scraped, on the reactor's thread, from
what the L{SessionTally} counted and from the service tree as it is then,
with C{prometheus_client}'s metric families and encoders.  (Its own Twisted
resource runs the collection in the reactor's thread pool, where the tree
may change under it, and imports the global reactor when imported.)
C{prometheus_client} is imported when the endpoint starts, so that a daemon
without C{--metrics} does not load it.

The HTTP server is twisted.web's HTTP/1.1 protocol with bounds: at most
L{MAX_CONNECTIONS} connections at once (at the limit, a new connection
closes the one that has waited longest for its next request), idle ones
closed after L{IDLE_TIMEOUT} seconds, a request that has not arrived whole
L{REQUEST_TIMEOUT} seconds after its first byte closes its connection,
request headers bounded by twisted.web, request bodies read and dropped
(only C{GET} and C{HEAD} are answered), and no connection read from while
its answers wait to be sent (see L{_MonitorChannel}).  Anyone who can
connect sees the client addresses of running sessions: listen on loopback
or on a UNIX socket with a restrictive mode.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IDelayedCall, IListeningPort, IPushProducer
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.protocols.policies import WrappingFactory
from twisted.python.failure import Failure
from twisted.web import http

from txinetd import __version__
from txinetd.core.events import Level, ProgramLog, Reloaded, ReloadResult, SessionEvent
from txinetd.daemon.metrics import Histogram, ServiceCounts, SessionTally
from txinetd.daemon.programlog import programMessage
from txinetd.daemon.status import STATES, DaemonTree, serviceState, statusDocument

__all__ = [
    "IDLE_TIMEOUT",
    "MAX_CONNECTIONS",
    "REQUEST_TIMEOUT",
    "MonitorService",
    "TreeCollector",
    "checkEndpoint",
]

log = Logger(namespace="txinetd")

#: At most this many connections to the endpoint at once: at the limit, a
#: new connection closes the one that has waited longest for a request.
MAX_CONNECTIONS = 64

#: Seconds after which an idle connection to the endpoint is closed (and a
#: connection whose client does not read its answers: it is not read from
#: meanwhile).
IDLE_TIMEOUT = 30

#: Seconds a request (its line, headers and body) may take to arrive, from
#: its first byte; then its connection is closed.
REQUEST_TIMEOUT = 10

_EMPTY = ServiceCounts()

#: A page: its body and content type, for a request.
_Page = Callable[[http.Request], tuple[bytes, bytes]]

_TEXT = b"text/plain; charset=utf-8"


def checkEndpoint(description: str) -> str | None:
    """
    What is wrong with an endpoint description, or L{None}: the endpoint
    is made as it will be, but not listened on (an C{ssl:} one reads its
    certificate files).
    """
    try:
        serverFromString(_NoReactor(), description)
    except Exception as e:  # Twisted's parsers raise whatever they meet.
        return str(e) or type(e).__name__
    return None


class _NoReactor:
    """
    Stands for the reactor while a description is only checked.
    """


def _bounds(histogram: Histogram) -> list[tuple[str, float]]:
    from prometheus_client.utils import floatToGoString

    return [(floatToGoString(bound), count) for bound, count in histogram.cumulative()]


class TreeCollector:
    """
    A C{prometheus_client} collector of txinetd's metrics: the counts of
    the tally and the gauges of the tree, read when it is scraped.
    """

    def __init__(self, tally: SessionTally, tree: DaemonTree) -> None:
        self.tally = tally
        self.tree = tree

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
            InfoMetricFamily,
        )

        tally, tree = self.tally, self.tree
        states = tree.serviceStates()
        configured = [state.config.id for state in states]
        ids = list(dict.fromkeys([*configured, *tally.services]))
        service, reason = ["service"], ["service", "reason"]
        connections = CounterMetricFamily(
            "txinetd_connections", "Sessions started (START lines), by service id.", labels=service
        )
        refused = CounterMetricFamily(
            "txinetd_refused", "Clients refused, by FAIL reason word.", labels=reason
        )
        noid = CounterMetricFamily(
            "txinetd_noid",
            "Clients an IDONLY service refused (NOID lines), by reason.",
            labels=reason,
        )
        exits = CounterMetricFamily(
            "txinetd_exits",
            "Sessions ended (EXIT), by exit status or the signal that ended the server.",
            labels=["service", "status"],
        )
        traffic = CounterMetricFamily(
            "txinetd_traffic_bytes",
            "Bytes a redirect relayed: in from the client, out to it.",
            labels=["service", "direction"],
        )
        durations = HistogramMetricFamily(
            "txinetd_session_duration_seconds",
            "How long sessions lasted, from their admission to their end.",
            labels=service,
        )
        spawns = HistogramMetricFamily(
            "txinetd_spawn_seconds",
            "How long external servers took to start, from the admission of the connection "
            "to the server running.",
            labels=service,
        )
        for serviceId in ids:
            counts = tally.services.get(serviceId, _EMPTY)
            connections.add_metric([serviceId], counts.connections)
            for word, count in counts.refused.items():
                refused.add_metric([serviceId, word], count)
            for word, count in counts.unidentified.items():
                noid.add_metric([serviceId, word], count)
            for status, count in counts.exits.items():
                exits.add_metric([serviceId, status], count)
            if counts.bytesIn or counts.bytesOut:
                traffic.add_metric([serviceId, "in"], counts.bytesIn)
                traffic.add_metric([serviceId, "out"], counts.bytesOut)
            durations.add_metric([serviceId], _bounds(counts.durations), counts.durations.total)
            if counts.spawns.count:
                spawns.add_metric([serviceId], _bounds(counts.spawns), counts.spawns.total)
        yield from (connections, refused, noid, exits, traffic, durations, spawns)

        running = Counter({serviceId: 0 for serviceId in configured})
        running.update(session.admission.serviceId for session in tree.sessions())
        sessions = GaugeMetricFamily(
            "txinetd_sessions",
            "Sessions running now (what instances counts), by service id.",
            labels=service,
        )
        for serviceId, count in running.items():
            sessions.add_metric([serviceId], count)
        yield sessions

        inState = Counter((state.config.id, serviceState(state)) for state in states)
        inState.update((serviceId, "disabled") for serviceId in tree.config.disabled)
        state = GaugeMetricFamily(
            "txinetd_service_state",
            "1 for a service's state (the number of the id's services in it, when "
            "several services share an id), 0 for the others.",
            labels=["service", "state"],
        )
        for serviceId in dict.fromkeys([*configured, *tree.config.disabled]):
            for word in STATES:
                state.add_metric([serviceId, word], inState[(serviceId, word)])
        yield state

        reloads = CounterMetricFamily(
            "txinetd_reloads", "Reconfigurations, by result.", labels=["result"]
        )
        for result in ReloadResult:
            reloads.add_metric([result.value], tally.reloads[result])
        yield reloads

        shared = tree.shared
        yield GaugeMetricFamily(
            "txinetd_ident_lookups",
            "Ident (RFC 1413) lookups running now: txinetd's equivalent of xinetd's "
            "logging helper processes (it runs no helper process).",
            value=shared.ident.cap.running,
        )
        yield GaugeMetricFamily(
            "txinetd_processes",
            "Servers and sessions running now over all services (what -limit counts).",
            value=shared.processes.running,
        )
        yield GaugeMetricFamily(
            "txinetd_sensor_addresses",
            "Addresses on the SENSOR list now.",
            value=len(shared.sensor),
        )
        yield InfoMetricFamily(
            "txinetd_build", "txinetd's version.", value={"version": __version__}
        )


class _MonitorRequest(http.Request):
    """
    One request to the endpoint: C{GET} or C{HEAD} of a page of the
    factory's; a request body is read and dropped (never kept in memory or
    in a temporary file).
    """

    def gotLength(self, length: int | None) -> None:
        self.content = io.BytesIO()

    def handleContentChunk(self, data: bytes) -> None:
        pass

    def process(self) -> None:
        factory: _MonitorFactory = self.channel.factory
        path = (self.path or b"/").split(b"?", 1)[0]
        page = factory.pages.get(path)
        if self.method not in (b"GET", b"HEAD"):
            self.setResponseCode(http.NOT_ALLOWED)
            self.setHeader(b"allow", b"GET, HEAD")
            body, contentType = b"GET or HEAD only\n", _TEXT
        elif page is None:
            self.setResponseCode(http.NOT_FOUND)
            body, contentType = b"no such page: see /\n", _TEXT
        else:
            try:
                body, contentType = page(self)
            except Exception:
                log.failure("The metrics endpoint failed to answer {path}", path=path)
                self.setResponseCode(http.INTERNAL_SERVER_ERROR)
                body, contentType = b"internal error\n", _TEXT
        self.setHeader(b"content-type", contentType)
        self.setHeader(b"content-length", str(len(body)).encode("ascii"))
        self.write(body)
        self.finish()


class _MonitorChannel(http.HTTPChannel):
    """
    One connection to the endpoint: twisted.web's HTTP/1.1 channel, with
    bounds on what a client makes it keep and for how long.

    Answers are not queued without end for a client that sends requests
    and reads no answer.  The transport asks its producer, this channel, to
    pause when more than its buffer size (64 KiB for TCP and UNIX sockets)
    waits to be sent; from then until it has sent everything, the channel
    reads nothing from the connection and answers none of the requests it
    has read (L{twisted.protocols.basic.LineReceiver}'s C{paused}).
    (C{HTTPChannel} alone pauses the transport only when asked between two
    requests; asked while it writes an answer, which is when all answers
    are written, it goes on reading and answering.)  A connection thus
    holds at most its transport's buffer size of answers plus the answer
    that filled it, and the requests of one read (64 KiB) plus a part of
    one, until its client reads or it is closed as idle (it is not read
    from, so it is idle).

    A request must arrive whole within L{REQUEST_TIMEOUT} seconds of its
    first byte: the idle timeout alone never closes a client that sends a
    header line every few seconds.

    @ivar waitingSince: when it began to wait for a request (it was made,
        or answered its last request), on the reactor's clock.
    """

    requestFactory = _MonitorRequest
    reading: IPushProducer | None = None
    _requestCall: IDelayedCall | None = None
    waitingSince = 0.0

    def connectionMade(self) -> None:
        super().connectionMade()
        self.reading = IPushProducer(self.transport, None)
        self.waitingSince = self.factory.reactor.seconds()

    def dataReceived(self, data: bytes) -> None:
        if data and self._requestCall is None:
            self._requestCall = self.callLater(REQUEST_TIMEOUT, self._requestTimedOut)
        super().dataReceived(data)

    def allContentReceived(self) -> None:
        self._cancelRequestTimeout()
        super().allContentReceived()

    def requestDone(self, request: http.Request) -> None:
        self.waitingSince = self.factory.reactor.seconds()
        super().requestDone(request)

    def _requestTimedOut(self) -> None:
        """
        A request took too long to arrive: close the connection as if idle.
        """
        self._requestCall = None
        self.timeoutConnection()

    def _cancelRequestTimeout(self) -> None:
        call, self._requestCall = self._requestCall, None
        if call is not None and call.active():
            call.cancel()

    def pauseProducing(self) -> None:
        """
        The transport has too much to send: read and answer nothing more.
        """
        super().pauseProducing()
        self.paused = True
        if self.reading is not None:
            self.reading.pauseProducing()

    def resumeProducing(self) -> None:
        """
        The transport has sent everything: answer the requests already
        read, and read again.
        """
        super().resumeProducing()
        self.paused = False
        if self.reading is not None and not getattr(self.transport, "disconnecting", False):
            self.reading.resumeProducing()
            self.dataReceived(b"")

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._cancelRequestTimeout()
        super().connectionLost(reason)


class _MonitorFactory(http.HTTPFactory):
    """
    The endpoint's HTTP server: its pages by path.
    """

    noisy = False
    protocol = _MonitorChannel  # type: ignore[assignment]  # HTTP/1.1 only, no HTTP/2 switch

    def __init__(self, pages: dict[bytes, _Page], reactor: Any) -> None:
        super().__init__(timeout=IDLE_TIMEOUT, reactor=reactor)
        self.pages = pages

    def log(self, request: http.Request) -> None:
        """
        Requests are not logged: a scraper asks every few seconds.
        """


class _Bounded(WrappingFactory):
    """
    At most a number of connections at once: at the limit, a new
    connection closes (aborts) the one that has waited longest for a
    request, so that clients which hold connections without asking cannot
    shut out one that asks.
    """

    noisy = False

    def __init__(self, wrapped: Any, limit: int) -> None:
        super().__init__(wrapped)
        self.limit = limit
        self.closing: set[Any] = set()

    def buildProtocol(self, addr: Any) -> Any:
        present = [wrapper for wrapper in self.protocols if wrapper not in self.closing]
        if len(present) >= self.limit:
            # An aborted connection is gone at the reactor's next turn; it
            # is not counted or chosen again meanwhile.
            oldest = min(present, key=lambda wrapper: wrapper.wrappedProtocol.waitingSince)
            self.closing.add(oldest)
            oldest.transport.abortConnection()
        return super().buildProtocol(addr)

    def unregisterProtocol(self, p: Any) -> None:
        self.closing.discard(p)
        super().unregisterProtocol(p)


class MonitorService(Service):
    """
    The metrics endpoint, while the daemon runs (see the module's
    docstring).  It listens when the daemon starts, before twistd drops its
    privileges; a failure to listen is logged, and tried again at each
    reconfiguration (it observes the L{Reloaded} events).

    @ivar description: the endpoint description.
    @ivar tally: what the sessions' events counted.
    @ivar tree: the service tree, once L{watch} has been called.
    @ivar port: the listening port, while it listens.
    """

    def __init__(
        self, reactor: Any, description: str, tally: SessionTally, say: ProgramLog = programMessage
    ) -> None:
        self.reactor = reactor
        self.description = description
        self.tally = tally
        self.say = say
        self.tree: DaemonTree | None = None
        self.port: IListeningPort | None = None
        self.listening: Deferred[IListeningPort] | None = None
        self.active = False
        self.started = float(reactor.seconds())
        self._registry: Any = None

    def watch(self, tree: DaemonTree) -> None:
        """
        Show C{tree}.
        """
        self.tree = tree

    def __call__(self, event: SessionEvent) -> None:
        """
        After a reconfiguration, listen if the endpoint does not.
        """
        if type(event) is Reloaded and self.active and self.port is None and not self.listening:
            self.listen()

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        self.active = True
        self.listen()

    def startService(self) -> None:
        super().startService()
        if not self.active:
            self.active = True
            self.listen()

    def stopService(self) -> Any:
        super().stopService()
        self.active = False
        if self.listening is not None:
            self.listening.cancel()
        port, self.port = self.port, None
        return None if port is None else port.stopListening()

    def listen(self) -> None:
        """
        Listen on the endpoint; a failure is logged.
        """
        pages: dict[bytes, _Page] = {
            b"/": self.index,
            b"/metrics": self.metrics,
            b"/status": self.status,
        }
        factory = _Bounded(_MonitorFactory(pages, self.reactor), MAX_CONNECTIONS)
        try:
            listening = serverFromString(self.reactor, self.description).listen(factory)
        except Exception as e:  # Twisted's parsers raise whatever they meet.
            self._failed(Failure(e))
            return
        self.listening = listening
        listening.addCallbacks(self._listened, self._failed)

    def _listened(self, port: IListeningPort) -> None:
        self.listening = None
        if not self.active:
            port.stopListening()
            return
        self.port = port
        address = port.getHost()
        host, number = getattr(address, "host", None), getattr(address, "port", None)
        where = self.description if host is None else f"{host} port {number}"
        self.say(Level.NOTICE, f"Serving /metrics and /status on {where}")

    def _failed(self, failure: Failure) -> None:
        self.listening = None
        if not self.active:
            return
        self.say(
            Level.ERROR,
            f"Cannot listen for metrics on {self.description}: {failure.getErrorMessage()}; "
            "tried again at the next reconfiguration",
        )

    def registry(self) -> Any:
        """
        The C{prometheus_client} registry of the endpoint's metrics (made
        at the first scrape): txinetd's, and the standard process metrics
        (C{process_open_fds}, C{process_resident_memory_bytes}, ...).
        """
        if self._registry is None:
            from prometheus_client import CollectorRegistry
            from prometheus_client.process_collector import ProcessCollector

            assert self.tree is not None
            registry = CollectorRegistry(auto_describe=False)
            registry.register(TreeCollector(self.tally, self.tree))
            ProcessCollector(registry=registry)
            self._registry = registry
        return self._registry

    def index(self, request: http.Request) -> tuple[bytes, bytes]:
        return b"txinetd: /metrics (Prometheus), /status (JSON)\n", _TEXT

    def metrics(self, request: http.Request) -> tuple[bytes, bytes]:
        """
        The metrics, in the format the scraper asks for (OpenMetrics or
        Prometheus text).
        """
        from prometheus_client.exposition import choose_encoder

        accept = request.getHeader(b"accept") or b""
        encoder, contentType = choose_encoder(accept.decode("latin-1"))
        return encoder(self.registry()), contentType.encode("latin-1")

    def status(self, request: http.Request) -> tuple[bytes, bytes]:
        """
        The C{/status} document.
        """
        assert self.tree is not None
        document = statusDocument(self.tree, self.reactor.seconds(), self.started)
        return (json.dumps(document, indent=1) + "\n").encode("ascii"), b"application/json"
