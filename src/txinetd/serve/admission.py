# -*- test-case-name: tests.serve.test_admission -*-
"""
What happens to every client of a service before its service runs: the
admission path, one linear sequence of steps (L{Admission._admit}).

For an accepted stream connection, in this order:

    1. the limits, in the daemon (cps, load, access_times, instances,
       per_source, C{-limit}): a refused client gets FAIL, banner_fail,
       and, with C{log_on_failure = USERID}, an ident look-up;
    2. the reservation: the client counts toward the limits (a
       L{Session});
    3. the look-ups the address rules need (hosts.allow and hosts.deny
       as they are now, the client's name);
    4. the address rules (the SENSOR list, C{only_from}, C{no_access},
       hosts.allow and hosts.deny);
    5. the banners (C{banner}, C{banner_success}) and what the runner
       sends first (a tcpmux C{+Go});
    6. the TLS handshake of a service behind TLS;
    7. ident, with C{log_on_success = USERID} (IDONLY waits for it);
    8. the runner: the service runs on the connection.

The verdicts (steps 1 and 4) are pure, in L{txinetd.core.verdicts}; this
module looks up what they need, acts on them and says what happened, as
events (L{txinetd.core.events}) to the service's observers.  A step that
waits does so through the session (L{Session.waitFor}): stopping the
session then cancels the wait, and the connection is closed without START
or EXIT.

Datagrams (L{txinetd.serve.datagrams}) and the hand-over of a C{wait =
yes} socket go through the same verdicts, in shorter paths.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum
from typing import Any

from twisted.internet.defer import CancelledError, Deferred, DeferredList, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from txinetd.core.config import ServiceConfig
from txinetd.core.connectionenv import ConnectionFacts, connectionVariables, remoteInfo
from txinetd.core.events import (
    Failed,
    FailReason,
    Level,
    NoIdReason,
    NotIdentified,
    ProgramMessage,
    SessionEvent,
    Started,
    UserIdentified,
)
from txinetd.core.libwrap import HostsAccess
from txinetd.core.limits import CpsLimiter, RunningServers
from txinetd.core.logformat import displayAddress, formatBadIdentLine
from txinetd.core.proxyprotocol import ConnectionEnv
from txinetd.core.values import FailureFlag, Flag, SuccessFlag
from txinetd.core.verdicts import AdmissionRules, Verdict, addressVerdict, limitVerdict
from txinetd.net.acceptor import PendingConnection
from txinetd.net.tls import describeTLSFailure
from txinetd.serve.banners import readBanners
from txinetd.serve.ident import NoId, UserId, localUser, queryIdent
from txinetd.serve.lookups import NO_NAME, HostName
from txinetd.serve.paths import runPath
from txinetd.serve.runner import Runner
from txinetd.serve.session import Session
from txinetd.serve.shared import Shared

__all__ = ["Admission"]

log = Logger(namespace="txinetd")


class Admission:
    """
    One service's admission: its rules, applied to each client, and the
    events of its sessions, given to its observers.

    @ivar config: the service's configuration.
    @ivar serviceId: its id.
    @ivar shared: what every service shares.
    @ivar rules: its compiled admission rules.
    @ivar running: its running sessions (kept across soft
        reconfiguration).
    @ivar cps: its rate limiter (kept across a reconfiguration that does
        not change C{cps}).
    @ivar observers: the observers of its sessions: its own log first, then
        the daemon's others (L{Shared.observers}).
    @ivar pauseFor: pauses the service's listening for some seconds, and
        says why (a cps trip).
    @ivar onCountChange: told how many sessions run whenever that changes.
    """

    def __init__(
        self,
        config: ServiceConfig,
        shared: Shared,
        running: RunningServers | None = None,
        pauseFor: Callable[[int, str], None] = lambda wait, why: None,
        onCountChange: Callable[[int], None] | None = None,
        cps: CpsLimiter | None = None,
    ) -> None:
        self.config = config
        self.serviceId = config.id
        self.shared = shared
        self.rules = AdmissionRules.of(config, shared.hosts.apply)
        self.running = running if running is not None else RunningServers(shared.processes)
        self.cps = cps if cps is not None else CpsLimiter(config.cps.max)
        self.pauseFor = pauseFor
        self.onCountChange = onCountChange
        self.observers = (shared.logs.serviceLog(config), *shared.observers)
        self.banner = tuple(path for path in (config.banner, config.banner_success) if path)
        self.bannerFail = tuple(path for path in (config.banner, config.banner_fail) if path)
        self.identOnSuccess = SuccessFlag.USERID in config.log_on_success
        self.identOnFailure = FailureFlag.USERID in config.log_on_failure
        self.idOnly = Flag.IDONLY in config.flags
        #: Whether the server waits for the ident reply even without IDONLY
        #: (its C{TCPREMOTEINFO}, as tcpserver waits for it).
        self.identWaits = ConnectionEnv.UCSPI in config.connection_env
        #: The hosts.allow / hosts.deny rules last decided with, and whether
        #: they may look at the client's name (worked out once per rules).
        self.nameNeed: tuple[HostsAccess | None, bool] = (None, False)

    # --- the path of a stream connection -------------------------------------

    def admit(self, connection: PendingConnection, runner: Runner, reply: bytes = b"") -> None:
        """
        Admit or refuse one accepted stream connection, then give it to
        C{runner} (see the module's docstring).

        @param reply: what an admitted client is sent first, before the
            banners (a tcpmux target's C{+Go}).
        """
        runPath(self._admit(connection, runner, reply))

    async def _admit(self, connection: PendingConnection, runner: Runner, reply: bytes) -> None:
        peer = connection.peer
        host = None if peer is None else peer[0]
        # 1. The limits.
        reason = self.checkLimits(host)
        if reason is not None:
            self.refuse(connection, reason, host, parent=True)
            return
        # 2. The client counts from now on.
        session = self.reserve(host, None if peer is None else peer[1])
        try:
            # 3. and 4. The look-ups the address rules need, and the rules.
            if host is not None and not (self.rules.unrestricted and not self.shared.sensor):
                decided = self.addressNow(host)
                if decided is _LOOK_UP:
                    decided = await session.waitFor(self.checkAddress(host))
                if decided is not None:
                    session.abandon()
                    self.refuse(connection, decided, host, parent=False)
                    return
            # 5. The banners.
            greeting = reply
            if self.banner:
                banners: bytes = await session.waitFor(self.readBanners(self.banner))
                greeting += banners
            if greeting:
                await session.waitFor(connection.send(greeting))
            # 6. The TLS handshake.
            certificate = None
            if connection.whenSecured is not None:
                try:
                    certificate = await session.waitFor(connection.whenSecured())
                except CancelledError:
                    raise
                except Exception as e:
                    self.handshakeFailed(connection, session, e)
                    return
                if certificate is not None:
                    connection.environment.update(certificate.environment())
            # 7. Ident.
            if self.identOnSuccess and not await self.identify(connection, session, certificate):
                return
            # 8. The service runs.
            if self.config.connection_env:
                variables = await session.waitFor(self.connectionVariables(connection))
                connection.environment.update(variables)
            session.admitted()
            runner.run(connection, session)
        except (CancelledError, OSError):
            # Stopped while it waited, or the client went away.
            session.abandon()
            connection.close()
        except Exception:
            session.abandon()
            connection.close()
            log.failure(
                "Unexpected error handling a connection to {service}", service=self.serviceId
            )

    # --- the steps -----------------------------------------------------------

    def checkLimits(self, host: str | None) -> FailReason | None:
        """
        Step 1: the limits; a cps trip pauses the service.
        """
        shared = self.shared
        now = shared.reactor.seconds()
        verdict = limitVerdict(
            self.rules,
            host,
            now,
            shared.localTime(now),
            self.cps,
            self.running,
            shared.load,
            shared.processes,
            shared.debug,
        )
        if verdict.reason is None:
            return None
        self.report(verdict, host)
        if verdict.reason is FailReason.CPS:
            self.pauseFor(self.config.cps.wait, "excessive incoming connections")
        return verdict.reason

    def reserve(self, host: str | None, port: int | None = None) -> Session:
        """
        Step 2: count a client that passed the limits.
        """
        session = Session(self, host, self.shared.reactor.seconds(), port)
        self.running.started(session, host)
        if self.onCountChange is not None:
            self.onCountChange(self.running.running)
        return session

    def release(self, session: Session) -> None:
        """
        Uncount a client whose session ended or was dropped.
        """
        self.running.ended(session)
        if self.onCountChange is not None:
            self.onCountChange(self.running.running)

    def checkAddress(self, host: str | None) -> Deferred[FailReason | None]:
        """
        Steps 3 and 4: look up what the address rules need (hosts.allow and
        hosts.deny as they are now, the client's name), then apply them.
        """
        if host is None or (self.rules.unrestricted and not self.shared.sensor):
            return succeed(None)
        hosts = None
        if self.rules.libwrapName is not None:
            known, hosts = self.shared.hosts.now()
            if not known:
                return self.shared.hosts.current().addCallback(self._lookUpName, host)
        return self._lookUpName(hosts, host)

    def addressNow(self, host: str) -> FailReason | _LookUp | None:
        """
        Steps 3 and 4 without waiting, when nothing needs to be looked up
        (hosts.allow and hosts.deny unchanged since they were read, no
        name needed): the address rules' reason; else L{_LOOK_UP}, and
        L{checkAddress} is asked.
        """
        hosts = None
        if self.rules.libwrapName is not None:
            known, hosts = self.shared.hosts.now()
            if not known:
                return _LOOK_UP
        if self.rules.listsNeedName or self._hostsNeedName(hosts):
            return _LOOK_UP
        return self._applyAddressRules(NO_NAME, host, hosts)

    def _lookUpName(self, hosts: HostsAccess | None, host: str) -> Deferred[FailReason | None]:
        verify = self._hostsNeedName(hosts)
        if not (verify or self.rules.listsNeedName):
            return succeed(self._applyAddressRules(NO_NAME, host, hosts))
        return self.shared.names(host, verify).addCallback(self._applyAddressRules, host, hosts)

    def _hostsNeedName(self, hosts: HostsAccess | None) -> bool:
        """
        Whether the rules of C{hosts} for this service may look at the
        client's name (then it is looked up and checked to map back to the
        address).
        """
        libwrapName = self.rules.libwrapName
        if hosts is None or libwrapName is None:
            return False
        known, need = self.nameNeed
        if known is not hosts:
            need = hosts.needsReverseName(libwrapName)
            self.nameNeed = (hosts, need)
        return need

    def _applyAddressRules(
        self, name: HostName, host: str, hosts: HostsAccess | None
    ) -> FailReason | None:
        shared = self.shared
        now = shared.reactor.seconds()
        verdict = addressVerdict(
            self.rules, host, name.name, name.paranoid, hosts, shared.sensor, now, shared.debug
        )
        if self.rules.sensor:
            self.sense(host, now)
        self.report(verdict, host, explanationFirst=False)
        return verdict.reason

    def sense(self, host: str, now: float) -> None:
        """
        A SENSOR service was touched: list the address for C{deny_time}.
        """
        minutes = self.rules.denyTime
        message = self.shared.sensor.add(host, now, None if minutes < 0 else minutes)
        if message is not None:
            self.say(message.level, message.text)

    def readBanners(self, paths: tuple[str, ...]) -> Deferred[bytes]:
        """
        Step 5: the bytes of banner files, one after the other, read off the
        reactor thread; one that cannot be read is left out, and said.
        """
        return readBanners(self.shared.blocking, paths).addCallback(self._bannersRead)

    def _bannersRead(self, read: tuple[bytes, tuple[str, ...]]) -> bytes:
        banners, failed = read
        for path in failed:
            self.say(Level.ERROR, f"service = {self.serviceId}, open of banner {path} failed")
        return banners

    def handshakeFailed(
        self, connection: PendingConnection, session: Session, error: Exception
    ) -> None:
        """
        Step 6 failed: the client is refused after its admission, with
        C{FAIL: id tls}; no START was said.
        """
        session.fail(FailReason.TLS)
        connection.close()
        self.say(
            Level.WARNING,
            f"TLS handshake for service {self.serviceId} from "
            f"{displayAddress(session.host)} failed: {describeTLSFailure(error)}",
        )

    async def identify(
        self, connection: PendingConnection, session: Session, certificate: Any
    ) -> bool:
        """
        Step 7: ask the client's ident server who connects (a TLS client
        certificate or a UNIX peer says it without asking); the session
        keeps its place until the look-up ends.  Only IDONLY waits for it.

        @return: whether the service may run (the connection is closed if
            not).
        """
        local = localUser(connection, certificate)
        if local is not None:
            connection.userId = local
            self.identified(local, session.host, session.port)
            return True
        ident = self.shared.ident
        lookup = ident.cap.run(lambda: self.askIdent(connection, ident.timeout))
        if lookup is None:
            # Too many look-ups run already: none for this connection.
            if not self.idOnly:
                return True
            self.notIdentified(session.host, NoIdReason.SYSTEM_ERROR, session.port)
            session.abandon()
            connection.close()
            return False
        lookup.addCallback(self._identified, session.host, session.port)
        session.holdFor(lookup)
        if not (self.idOnly or self.identWaits):
            lookup.addErrback(_ignoreCancelled)
            return True
        result = await session.waitFor(lookup)
        if isinstance(result, UserId):
            connection.userId = result.text
            return True
        if not self.idOnly:
            return True
        self.notIdentified(session.host, result.reason, session.port)
        session.abandon()
        connection.close()
        return False

    def askIdent(
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

    def _identified(
        self, result: UserId | NoId, host: str | None, port: int | None = None
    ) -> UserId | NoId:
        """
        Say what ident said: USERID, or a program-log error for a reply
        that could not be used.
        """
        if isinstance(result, UserId):
            self.identified(result.text, host, port)
        elif result.badLine is not None:
            self.say(Level.ERROR, formatBadIdentLine(host, result.badLine))
        return result

    def refuse(
        self, connection: PendingConnection, reason: FailReason, host: str | None, parent: bool
    ) -> None:
        """
        Refuse a client: FAIL, the banners, and close.

        @param parent: whether the limits refused it (step 1): then, with
            C{log_on_failure = USERID}, ident is asked who it was.
        """
        port = None if connection.peer is None else connection.peer[1]
        self.failed(reason, host, port)
        waits: list[Deferred[Any]] = []
        if parent and self.identOnFailure:
            ident = self.shared.ident
            lookup = ident.forFailures.run(lambda: self.askIdent(connection, ident.timeout))
            if lookup is not None:
                waits.append(lookup.addCallback(self._identified, host, port))
        if self.bannerFail:
            farewell = self.readBanners(self.bannerFail)
            sent = farewell.addCallback(lambda data: connection.send(data) if data else None)
            # A client gone before its banner needs no word about it.
            waits.append(sent.addErrback(lambda _: None))
        # The connection is closed once the lookup is over, as xinetd's child
        # holds it: a client that has shut its side down would otherwise be
        # gone from its ident server's tables (NO-USER) before the question.
        # At most -logprocs lookups hold a connection at once.
        if waits:
            DeferredList(waits).addBoth(lambda _: connection.close())
        else:
            connection.close()

    def connectionVariables(self, connection: PendingConnection) -> Deferred[dict[str, str]]:
        """
        Before step 8, with C{connection_env}: the variables the server
        gets, the client's name among them when the address rules look
        names up (then it is looked up again, as tcpserver looks it up).
        """
        kinds = self.config.connection_env
        userId = connection.userId
        facts = ConnectionFacts(
            connection.peer,
            connection.local,
            remoteInfo=None if userId is None else remoteInfo(userId),
        )
        host = None if connection.peer is None else connection.peer[0]
        looksUpNames = self.rules.listsNeedName or self.nameNeed[1]
        if ConnectionEnv.UCSPI not in kinds or host is None or not looksUpNames:
            return succeed(connectionVariables(kinds, facts))

        def named(name: HostName) -> dict[str, str]:
            facts.remoteHost = None if name.name is None else name.name.lower()
            return connectionVariables(kinds, facts)

        return self.shared.names(host, False).addCallback(named)

    # --- the other paths ------------------------------------------------------

    def recheck(self, session: Session) -> Deferred[FailReason | None]:
        """
        Whether a running session would still be admitted by these rules:
        its access times and address rules (a hard reconfiguration).
        """
        now = self.shared.reactor.seconds()
        if not self.rules.limits.accessTimes.contains(*_hourMinute(self.shared.localTime(now))):
            return succeed(FailReason.TIME)
        return self.checkAddress(session.host)

    # --- events ---------------------------------------------------------------

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

    @property
    def debug(self) -> bool:
        """
        Whether refusals are explained in the program log (C{-d}).
        """
        return bool(self.shared.debug)

    def report(self, verdict: Verdict, host: str | None, explanationFirst: bool = True) -> None:
        """
        Say what a refusing verdict says: its messages, and which rule
        refused (C{-d}): before them for the limits, after them for the
        address rules.
        """
        if verdict.explanation is None or verdict.reason is None:
            for message in verdict.messages:
                self.emit(message)
            return
        explanation = ProgramMessage(
            Level.DEBUG,
            f"{self.serviceId}: {displayAddress(host)} refused "
            f"({verdict.reason.value}): {verdict.explanation}",
        )
        said = (
            (explanation, *verdict.messages)
            if explanationFirst
            else (*verdict.messages, explanation)
        )
        for message in said:
            self.emit(message)

    def started(self, pid: int, host: str | None, port: int | None = None) -> None:
        """
        The service runs for C{host} with no session (a datagram answered).
        """
        self.emit(Started(self.serviceId, pid, host, self.now(), port))

    def failed(self, reason: FailReason, host: str | None, port: int | None = None) -> None:
        self.emit(Failed(self.serviceId, reason, host, self.now(), port))

    def identified(self, text: str, host: str | None, port: int | None = None) -> None:
        self.emit(UserIdentified(self.serviceId, text, host, self.now(), port))

    def notIdentified(self, host: str | None, reason: NoIdReason, port: int | None = None) -> None:
        self.emit(NotIdentified(self.serviceId, host, reason, self.now(), port))


class _LookUp(Enum):
    """
    The address rules need a look-up first.
    """

    LOOK_UP = "look up"


_LOOK_UP = _LookUp.LOOK_UP


def _ignoreCancelled(failure: Failure) -> None:
    """
    A look-up given up with its session ends there.
    """
    failure.trap(CancelledError)  # type: ignore[no-untyped-call]


def _hourMinute(moment: time.struct_time) -> tuple[int, int]:
    return moment.tm_hour, moment.tm_min
