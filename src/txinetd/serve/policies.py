# -*- test-case-name: tests.serve.test_policies -*-
"""
What happens to every connection or datagram before and after its service
runs: the limit checks in xinetd's order, access control, banners, ident, and
the START / FAIL / EXIT / USERID / NOID lines of the service log.

L{ServicePolicy} holds one service's rules and state; what all services
share is L{txinetd.serve.shared.Shared}.  The pure decisions are in L{txinetd.core.access}
and L{txinetd.core.limits}; the lines in L{txinetd.core.logformat}.
"""

from __future__ import annotations

import pwd
import socket
import struct
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from typing import Protocol as TypingProtocol

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IHalfCloseableProtocol, IProtocol, ITransport
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from txinetd.core.access import decide, explainAddress
from txinetd.core.addressentries import AddressEntry
from txinetd.core.addresslists import AddressList
from txinetd.core.attributes import FailureFlag, Flag, SuccessFlag
from txinetd.core.config import ServiceConfig, ServiceKind
from txinetd.core.events import (
    Exited,
    Failed,
    FailReason,
    Level,
    NoIdReason,
    NotIdentified,
    ProgramMessage,
    SessionEvent,
    Started,
    Traffic,
    UserIdentified,
)
from txinetd.core.libwrap import HostsAccess, libwrapDaemonName
from txinetd.core.limits import (
    CpsLimiter,
    LimitRules,
    RunningServers,
    checkLimits,
    explainLimit,
)
from txinetd.core.logformat import (
    displayAddress,
    formatBadIdentLine,
)
from txinetd.core.times import TimeIntervals
from txinetd.net.acceptor import PendingConnection
from txinetd.net.tls import describeTLSFailure
from txinetd.serve.banners import BannerError, readBanner
from txinetd.serve.ident import NoId, UserId, queryIdent
from txinetd.serve.lookups import NO_NAME, HostName
from txinetd.serve.shared import Shared

#: struct ucred: pid, uid, gid.
_UCRED = struct.Struct("3i")
log = Logger(namespace="txinetd")
_T = TypeVar("_T")

#: A datagram refused for its address is logged at most once per this many
#: seconds per (address, port), as xinetd does.
DGRAM_FAIL_QUIET = 60.0

#: How many senders of refused datagrams a service remembers to keep quiet
#: about; past that, the one remembered longest is forgotten.
DGRAM_FAIL_SENDERS = 4096

#: How many datagrams of a service may wait for their address check (a
#: name lookup) at once; past that, datagrams are refused with
#: C{service_limit} until some have been checked.
DGRAM_WAITING = 64


def _addressList(entries: tuple[AddressEntry, ...] | None) -> AddressList | None:
    return None if entries is None else AddressList(entries)


class Starter(TypingProtocol):
    """
    Runs a service on an admitted connection.
    """

    def __call__(self, connection: PendingConnection, session: Session) -> None:
        """
        Take the connection over and call C{session.ended} when it is done.
        """


@dataclass(eq=False)
class Session:
    """
    One admitted connection, from its admission to its EXIT.

    @ivar stopper: ends the session when it is asked to stop: until its
        service starts, what cancels the wait in front of it (see
        L{ServicePolicy.handleConnection}); then what its starter set (see
        L{stopWith}).
    @ivar stopAsked: L{None}, or whether the strongest stop asked so far
        was forced.
    @ivar identLookup: the ident lookup made for the session, while it
        runs: the session keeps its slot until both its service and the
        lookup have ended (as xinetd's forked child asks ident before it
        runs the server, and counts all along).
    """

    policy: ServicePolicy
    host: str | None
    started: float
    pid: int = 0
    done: bool = False
    stopper: Callable[[bool], None] | None = None
    stopAsked: bool | None = None
    identLookup: Deferred[Any] | None = None

    def stop(self, force: bool = False) -> None:
        """
        Ask the running service to end (C{force}: at once), and give up its
        ident lookup.
        """
        self.cancelLookup()
        if self.done:
            return
        self.stopAsked = force or bool(self.stopAsked)
        if self.stopper is not None:
            self.stopper(force)

    def holdFor(self, lookup: Deferred[Any]) -> None:
        """
        Keep the session's slot until C{lookup} has ended (fired or been
        cancelled).
        """
        self.identLookup = lookup

        def finished(result: object) -> object:
            self.identLookup = None
            if self.done:
                self.policy.release(self)
            return result

        lookup.addBoth(finished)

    def cancelLookup(self) -> None:
        lookup = self.identLookup
        if lookup is not None and not lookup.called:
            lookup.cancel()

    def stopWith(self, stopper: Callable[[bool], None]) -> None:
        """
        The service runs and C{stopper} ends it; a stop asked while it was
        being started (a server being spawned) is applied now.
        """
        self.stopper = stopper
        if self.stopAsked is not None and not self.done:
            stopper(self.stopAsked)

    def begin(self, pid: int) -> None:
        """
        The service runs: log START.
        """
        self.pid = pid
        self.policy.emit(Started(self.policy.config.id, pid, self.host, self.policy.now()))

    def ended(self, status: int | None = 0, signal: int | None = None) -> None:
        """
        The service ended: log EXIT and release its slot (once its ident
        lookup, if one still runs, has ended too: its USERID line waits).
        """
        if self.done:
            return
        self.done = True
        if self.identLookup is None:
            self.policy.release(self)
        duration = self.policy.shared.reactor.seconds() - self.started
        policy = self.policy
        policy.emit(
            Exited(policy.config.id, self.pid, self.host, status, signal, duration, policy.now())
        )

    def abandon(self) -> None:
        """
        The service never ran: give up its ident lookup and release its
        slot without an EXIT line.
        """
        if not self.done:
            self.done = True
            self.cancelLookup()
            if self.identLookup is None:
                self.policy.release(self)


class ServicePolicy:
    """
    One service's rules and state, applied to each connection.

    @ivar config: the service's configuration.
    @ivar shared: what every service shares.
    @ivar running: the service's running servers (kept across soft
        reconfiguration).
    @ivar cps: its rate limiter.
    @ivar log: the service's log, shared by all the policies of the service
        (see L{LogTargets.serviceLog}).
    @ivar onTrip: called with the wait in seconds and the reason when cps
        trips (the service logs it and deactivates its socket).
    @ivar libwrapName: the service's daemon name in hosts.allow and
        hosts.deny, or L{None} if they do not apply to it.
    """

    def __init__(
        self,
        config: ServiceConfig,
        shared: Shared,
        running: RunningServers | None = None,
        onTrip: Callable[[int, str], None] = lambda wait, why: None,
    ) -> None:
        self.config = config
        self.shared = shared
        self.running = running if running is not None else RunningServers(shared.processes)
        self.cps = CpsLimiter(config.cps.max)
        self.onTrip = onTrip
        self.observers = (shared.logs.serviceLog(config), *shared.observers)
        self.onlyFrom = _addressList(config.only_from)
        self.noAccess = _addressList(config.no_access)
        self.rules = LimitRules(
            instances=config.instances,
            perSource=config.per_source,
            maxLoad=config.max_load,
            accessTimes=config.access_times or TimeIntervals(),
        )
        self.libwrapName: str | None = None
        if shared.hosts.apply and Flag.NOLIBWRAP not in config.flags:
            self.libwrapName = libwrapDaemonName(
                config.libwrap,
                config.name,
                config.kind,
                Flag.NAMEINARGS in config.flags,
                config.server_args or (),
                config.server,
            )
        #: No rule can refuse an address (the SENSOR list aside).
        self.unrestricted = (
            self.onlyFrom is None
            and self.noAccess is None
            and self.libwrapName is None
            and config.kind is not ServiceKind.SENSOR
        )
        #: only_from / no_access may look at the client's name.
        self.listsNeedName = any(
            lists is not None and lists.needsReverseName for lists in (self.onlyFrom, self.noAccess)
        )
        #: The hosts.allow / hosts.deny rules last decided with, and whether
        #: they may look at the client's name (worked out once per rules).
        self.nameNeed: tuple[HostsAccess | None, bool] = (None, False)
        #: When a refusal of each recent datagram sender may be logged
        #: again, the soonest first.
        self.quietUntil: OrderedDict[tuple[str, int], float] = OrderedDict()
        #: How many datagrams wait for their address check now.
        self.waitingDatagrams = 0
        self.onCountChange: Callable[[int], None] | None = None

    # --- events --------------------------------------------------------------

    def now(self) -> float:
        return float(self.shared.reactor.seconds())

    def emit(self, event: SessionEvent) -> None:
        """
        Give an event of the service's sessions to their observers.
        """
        for observer in self.observers:
            observer(event)

    def say(self, level: Level, text: str) -> None:
        """
        A program message about the service's sessions.
        """
        self.emit(ProgramMessage(level, text))

    def started(self, pid: int, host: str | None) -> None:
        """
        The service runs for C{host} (a datagram answered, which has no
        session).
        """
        self.emit(Started(self.config.id, pid, host, self.now()))

    def failed(self, reason: FailReason, host: str | None) -> None:
        self.emit(Failed(self.config.id, reason, host, self.now()))

    def identified(self, text: str, host: str | None) -> None:
        self.emit(UserIdentified(self.config.id, text, host, self.now()))

    def notIdentified(self, host: str | None, reason: NoIdReason) -> None:
        self.emit(NotIdentified(self.config.id, host, reason, self.now()))

    def traffic(self, bytesIn: int, bytesOut: int) -> None:
        self.emit(Traffic(self.config.id, bytesIn, bytesOut, self.now()))

    # --- checks ------------------------------------------------------------

    def parentCheck(self, host: str | None, now: float) -> FailReason | None:
        """
        cps, load, access_times, instances, per_source and the process limit,
        in that order.
        """
        shared = self.shared
        localTime = shared.localTime(now)
        limits = (self.cps, self.running, shared.load, shared.processes)
        reason = checkLimits(self.rules, host, now, localTime, *limits)
        if reason is not None and shared.debug:
            self.explain(reason, host, explainLimit(reason, self.rules, host, localTime, *limits))
        if reason is FailReason.CPS:
            self.onTrip(self.config.cps.wait, "excessive incoming connections")
        elif reason is FailReason.LOAD:
            self.say(Level.ERROR, f"refused connect from {host} due to excessive load")
        return reason

    def addressCheck(self, host: str | None) -> Deferred[FailReason | None]:
        """
        The SENSOR list, only_from / no_access and libwrap (with
        hosts.allow and hosts.deny as they are now).
        """
        if host is None or (self.unrestricted and not self.shared.sensor):
            return succeed(None)
        hosts = None
        if self.libwrapName is not None:
            known, hosts = self.shared.hosts.now()
            if not known:
                return self.shared.hosts.current().addCallback(self._checkWith, host)
        return self._checkWith(hosts, host)

    def _checkWith(self, hosts: HostsAccess | None, host: str) -> Deferred[FailReason | None]:
        verify = self._hostsNeedName(hosts)
        if not (verify or self.listsNeedName):
            return succeed(self._decide(NO_NAME, host, hosts))
        return self.shared.names(host, verify).addCallback(self._decide, host, hosts)

    def _hostsNeedName(self, hosts: HostsAccess | None) -> bool:
        """
        Whether the rules of C{hosts} for this service may look at the
        client's name (then it is looked up and checked to map back to the
        address).
        """
        if hosts is None or self.libwrapName is None:
            return False
        known, need = self.nameNeed
        if known is not hosts:
            need = hosts.needsReverseName(self.libwrapName)
            self.nameNeed = (hosts, need)
        return need

    def _decide(
        self, name: HostName, host: str, hosts: HostsAccess | None = None
    ) -> FailReason | None:
        now = self.shared.reactor.seconds()
        if self.config.kind is ServiceKind.SENSOR:
            self.sense(host, now)
            if self.shared.debug:
                self.explain(FailReason.ADDRESS, host, "it touched a SENSOR service")
            return FailReason.ADDRESS
        if self.onlyFrom is not None or self.noAccess is not None or self.shared.sensor:
            lists = (self.onlyFrom, self.noAccess, self.shared.sensor, now)
            decision = decide(self.config.id, host, name.name, *lists)
            if decision.message is not None:
                self.say(decision.message.level, decision.message.text)
            if not decision.allowed:
                if self.shared.debug:
                    self.explain(FailReason.ADDRESS, host, explainAddress(host, name.name, *lists))
                return FailReason.ADDRESS
        if self.libwrapName is not None and hosts is not None and hosts.hasRules:
            rule = hosts.decidingRule(self.libwrapName, host, name.name, name.paranoid)
            if rule is not None and not rule.allows:
                self.say(
                    Level.INFO,
                    f"libwrap refused connection to {self.config.id} "
                    f"(libwrap={self.libwrapName}) from {host}",
                )
                if self.shared.debug:
                    self.explain(FailReason.LIBWRAP, host, f"{rule.where}: {rule.text}")
                return FailReason.LIBWRAP
        return None

    def explain(self, reason: FailReason, host: str | None, why: str) -> None:
        """
        Say in a DEBUG program message which rule refused a client (C{-d}).
        """
        self.say(
            Level.DEBUG, f"{self.config.id}: {displayAddress(host)} refused ({reason.value}): {why}"
        )

    def sense(self, host: str, now: float) -> None:
        """
        A SENSOR service was touched: list the address for C{deny_time}.
        """
        minutes = self.config.deny_time
        message = self.shared.sensor.add(host, now, None if minutes < 0 else minutes)
        if message is not None:
            self.say(message.level, message.text)

    # --- banners -------------------------------------------------------------

    def banners(self, *paths: str | None) -> Deferred[bytes]:
        """
        The bytes of banner files, one after the other, read off the
        reactor thread (a file system may block); a file that cannot be
        read, is not a regular file or is too large is left out and logged.

        @param paths: the files; L{None} stands for no banner.
        """
        wanted = [path for path in paths if path is not None]
        if not wanted:
            return succeed(b"")
        reading = self.shared.blocking(lambda: [_readOrError(path) for path in wanted])
        return reading.addCallback(self._joinBanners, wanted)

    def _joinBanners(self, read: list[bytes | BannerError], paths: list[str]) -> bytes:
        for path, result in zip(paths, read, strict=True):
            if isinstance(result, BannerError):
                self.say(Level.ERROR, f"service = {self.config.id}, open of banner {path} failed")
        return b"".join(result for result in read if isinstance(result, bytes))

    # --- stream connections ----------------------------------------------

    def handleConnection(
        self, connection: PendingConnection, starter: Starter, reply: bytes = b""
    ) -> None:
        """
        Admit or refuse one accepted stream connection, then run the service
        on it with C{starter}.

        @param reply: what an admitted client is sent first, before the
            banners (a tcpmux target's C{+Go}).

        From its admission until C{starter} gives it a stopper of its own,
        stopping the session cancels what it waits on (the address check,
        the banners, the TLS handshake, the ident reply): the connection is
        closed and the session released without START or EXIT.
        """
        host = connection.peer[0] if connection.peer is not None else None
        reason = self.parentCheck(host, self.shared.reactor.seconds())
        if reason is not None:
            self.refuse(connection, reason, host, parent=True)
            return
        session = self.reserve(host)
        checked = self.addressCheck(host)
        # Set before the chain runs: a starter called at once replaces it.
        session.stopper = lambda force: checked.cancel()
        checked.addCallback(self._admitted, connection, session, starter, reply)
        checked.addErrback(self._failed, connection, session)

    def reserve(self, host: str | None) -> Session:
        """
        Count a connection that passed the limit checks.
        """
        session = Session(self, host, self.shared.reactor.seconds())
        self.running.started(session, host)
        self._countChanged()
        return session

    def release(self, session: Session) -> None:
        """
        Uncount a connection that ended or was refused.
        """
        self.running.ended(session)
        self._countChanged()

    def _countChanged(self) -> None:
        if self.onCountChange is not None:
            self.onCountChange(self.running.running)

    def _admitted(
        self,
        reason: FailReason | None,
        connection: PendingConnection,
        session: Session,
        starter: Starter,
        reply: bytes = b"",
    ) -> Deferred[None] | None:
        host = session.host
        if reason is not None:
            session.abandon()
            self.refuse(connection, reason, host, parent=False)
            return None
        greeting = self.banners(self.config.banner, self.config.banner_success)
        greeting.addCallback(lambda banners: reply + banners)
        sent = greeting.addCallback(lambda data: connection.send(data) if data else None)
        return sent.addCallback(lambda _: self._secureThenStart(connection, session, starter))

    def _secureThenStart(
        self, connection: PendingConnection, session: Session, starter: Starter
    ) -> Deferred[None] | None:
        """
        A connection behind TLS starts its service once the handshake is
        done; one whose handshake fails is refused with C{FAIL: id tls}.
        """
        if connection.whenSecured is None:
            return self._identThenStart(connection, session, starter)

        def secured(certificate: Any) -> Deferred[None] | None:
            if certificate is not None:
                connection.environment.update(certificate.environment())
            return self._identThenStart(connection, session, starter, certificate)

        def insecure(failure: Failure) -> Failure | None:
            if isinstance(failure.value, CancelledError):
                # The session was stopped: not the client's fault.
                return failure
            # Refused after admission: the slot is freed and no START was logged.
            session.abandon()
            connection.close()
            self.failed(FailReason.TLS, session.host)
            self.say(
                Level.WARNING,
                f"TLS handshake for service {self.config.id} from "
                f"{displayAddress(session.host)} failed: {describeTLSFailure(failure)}",
            )
            return None

        return connection.whenSecured().addCallbacks(secured, insecure)

    def _identThenStart(
        self,
        connection: PendingConnection,
        session: Session,
        starter: Starter,
        certificate: Any = None,
    ) -> Deferred[None] | None:
        if SuccessFlag.USERID not in self.config.log_on_success:
            starter(connection, session)
            return None
        local = localUser(connection, certificate)
        if local is not None:
            # A client certificate or a UNIX peer says who connects; no ident query.
            self.identified(local, session.host)
            starter(connection, session)
            return None
        idOnly = Flag.IDONLY in self.config.flags
        ident = self.shared.ident
        lookup = ident.cap.run(lambda: self.ident(connection, ident.timeout))
        if lookup is None:
            # Too many lookups run already: none for this connection.
            if idOnly:
                self.notIdentified(session.host, NoIdReason.SYSTEM_ERROR)
                session.abandon()
                connection.close()
            else:
                starter(connection, session)
            return None
        lookup.addCallback(self._logIdent, session.host)
        session.holdFor(lookup)
        if not idOnly:
            starter(connection, session)
            lookup.addErrback(_ignoreCancelled)
            return None

        def decideIdent(result: UserId | NoId) -> None:
            if isinstance(result, UserId):
                starter(connection, session)
            else:
                self.notIdentified(session.host, result.reason)
                session.abandon()
                connection.close()

        return lookup.addCallback(decideIdent)

    def ident(
        self, connection: PendingConnection, timeout: float | None
    ) -> Deferred[UserId | NoId]:
        """
        Ask the client's ident server who is connecting.
        """
        if connection.peer is None or connection.local is None:
            return succeed(NoId(NoIdReason.NO_SERVER))
        return queryIdent(
            self.shared.reactor,
            connection.local[0],
            connection.peer[0],
            connection.peer[1],
            connection.local[1],
            timeout=timeout if timeout is not None else self.shared.ident.timeout,
            identPort=self.shared.ident.port,
        )

    def _logIdent(self, result: UserId | NoId, host: str | None) -> UserId | NoId:
        """
        Log what ident said: the USERID line, or a program-log error for a
        reply that could not be used.
        """
        if isinstance(result, UserId):
            self.identified(result.text, host)
        elif result.badLine is not None:
            self.say(Level.ERROR, formatBadIdentLine(host, result.badLine))
        return result

    def _failed(self, failure: Failure, connection: PendingConnection, session: Session) -> None:
        """
        A connection could not be served, or its session was stopped
        (cancelled) before its service started: close and uncount it.
        """
        session.abandon()
        connection.close()
        if not isinstance(failure.value, OSError | CancelledError):
            log.failure(
                "Unexpected error handling a connection to {service}",
                failure,
                service=self.config.id,
            )

    def refuse(
        self, connection: PendingConnection, reason: FailReason, host: str | None, parent: bool
    ) -> None:
        """
        Log FAIL, send the banners and close.
        """
        self.failed(reason, host)
        farewell = self.banners(self.config.banner, self.config.banner_fail)
        sent = farewell.addCallback(lambda data: connection.send(data) if data else None)
        sent.addBoth(lambda _: connection.close())
        if parent and FailureFlag.USERID in self.config.log_on_failure:
            lookup = self.shared.ident.forFailures.run(
                lambda: self.ident(connection, self.shared.ident.timeout)
            )
            if lookup is not None:
                lookup.addCallback(self._logIdent, host)

    # --- datagrams ---------------------------------------------------------

    def checkDatagram(self, peer: tuple[str, int]) -> Deferred[bool]:
        """
        The checks for one datagram of a dgram service: a datagram from one
        of the daemon's own datagram ports (L{Shared.datagramPorts}) is
        refused for its address, before the limits count it; then the
        limits, then the address rules.  At most L{DGRAM_WAITING}
        datagrams wait for a name lookup at once; past that, one is refused
        with C{service_limit}.

        @return: whether to answer it; a refusal is logged (at most once a
            minute per sender).
        """
        host = peer[0]
        now = self.shared.reactor.seconds()
        if peer[1] in self.shared.datagramPorts:
            # Sent (or forged) from a port of the daemon's own: answering
            # would start a loop.
            reason: FailReason | None = FailReason.ADDRESS
        else:
            reason = self.parentCheck(host, now)
        if reason is None and self.waitingDatagrams >= DGRAM_WAITING:
            # Each waiting datagram is kept until its lookup ends: shed.
            reason = FailReason.SERVICE_LIMIT
        checked = succeed(reason) if reason is not None else self.addressCheck(host)
        if not checked.called:
            self.waitingDatagrams += 1
            checked.addBoth(self._datagramChecked)

        def conclude(reason: FailReason | None) -> bool:
            if reason is None:
                return True
            if self._logsRefusal(peer, now):
                self.failed(reason, host)
            return False

        return checked.addCallback(conclude)

    def _datagramChecked(self, result: _T) -> _T:
        self.waitingDatagrams -= 1
        return result

    def _logsRefusal(self, peer: tuple[str, int], now: float) -> bool:
        """
        Whether a refused datagram from C{peer} is logged: not if a refusal
        of C{peer} was logged in the last L{DGRAM_FAIL_QUIET} seconds.
        Senders whose quiet time is over are forgotten, the soonest first
        (each once, so the cost does not grow with their number), and so is
        the oldest when L{DGRAM_FAIL_SENDERS} are remembered.
        """
        quiet = self.quietUntil
        while quiet:
            oldest, until = next(iter(quiet.items()))
            if until > now:
                break
            del quiet[oldest]
        if quiet.get(peer, now) > now:
            return False
        quiet.pop(peer, None)
        if len(quiet) >= DGRAM_FAIL_SENDERS:
            quiet.popitem(last=False)
        quiet[peer] = now + DGRAM_FAIL_QUIET
        return True


def _readOrError(path: str) -> bytes | BannerError:
    try:
        return readBanner(path)
    except BannerError as e:
        return e


def _ignoreCancelled(failure: Failure) -> None:
    """
    A lookup given up with its session ends there.
    """
    failure.trap(CancelledError)  # type: ignore[no-untyped-call]


def localUser(connection: PendingConnection, certificate: Any) -> str | None:
    """
    Who connects, when txinetd knows without asking an ident server: the
    subject of a TLS client certificate (C{X509 : C=.., CN=..}), or the user
    of a UNIX-socket client (C{UNIX : alice}), in the USERID line's form.
    """
    if certificate is not None:
        return f"X509 : {certificate.subject}"
    if connection.peer is not None or connection.family != socket.AF_UNIX:
        return None
    try:
        credentials = connection.socket.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size
        )
    except OSError:
        return None
    uid = _UCRED.unpack(credentials)[1]
    try:
        return f"UNIX : {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"UNIX : {uid}"


def recheck(policy: ServicePolicy, session: Session) -> Deferred[FailReason | None]:
    """
    Whether a running session would still be admitted by C{policy}'s rules:
    its access times and address rules (for a hard reconfiguration).
    """
    now = policy.shared.reactor.seconds()
    if not policy.rules.accessTimes.contains(*_hourMinute(policy.shared.localTime(now))):
        return succeed(FailReason.TIME)
    if session.host is None:
        return succeed(None)
    return policy.addressCheck(session.host)


def _hourMinute(moment: time.struct_time) -> tuple[int, int]:
    return moment.tm_hour, moment.tm_min


@implementer(IHalfCloseableProtocol)
class ServedProtocol(Protocol):
    """
    Wraps the protocol of an internal service to tell its L{Session} when
    the connection ends; half-closes and flow control pass through.
    """

    def __init__(self, wrapped: IProtocol, onEnd: Callable[[], None]) -> None:
        self.wrapped = wrapped
        self.onEnd = onEnd

    def makeConnection(self, transport: ITransport) -> None:
        self.transport = transport
        self.connected = 1
        self.wrapped.makeConnection(transport)

    def dataReceived(self, data: bytes) -> None:
        self.wrapped.dataReceived(data)

    def stop(self, force: bool) -> None:
        """
        End the connection (C{force}: without flushing).
        """
        if self.transport is None:
            return
        if force:
            self.transport.abortConnection()  # type: ignore[attr-defined]
        else:
            # A service that is its own producer (echo) may be paused; it
            # must not hold the close back.
            if getattr(self.transport, "producer", None) is not None:
                self.transport.unregisterProducer()  # type: ignore[attr-defined]
            self.transport.loseConnection()

    def readConnectionLost(self) -> None:
        halfCloseable = IHalfCloseableProtocol(self.wrapped, None)
        if halfCloseable is not None:
            halfCloseable.readConnectionLost()
        elif self.transport is not None:
            self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        halfCloseable = IHalfCloseableProtocol(self.wrapped, None)
        if halfCloseable is not None:
            halfCloseable.writeConnectionLost()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        try:
            self.wrapped.connectionLost(reason)
        finally:
            self.onEnd()
