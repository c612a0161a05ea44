# -*- test-case-name: tests.serve.test_policies -*-
"""
What happens to every connection or datagram before and after its service
runs: the limit checks in xinetd's order, access control, banners, ident, and
the START / FAIL / EXIT / USERID / NOID lines of the service log.

L{ServicePolicy} holds one service's rules and state.  L{Daemon} holds what
all services share (the SENSOR list, the process limit, the load average,
the log targets, the resolver).  The pure decisions are in L{txinetd.core.access}
and L{txinetd.core.limits}; the lines in L{txinetd.core.logformat}.
"""

from __future__ import annotations

import os
import pwd
import resource
import socket
import struct
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from typing import Protocol as TypingProtocol

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IHalfCloseableProtocol, IProtocol, ITransport
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from txinetd.builtins.simple import InternalServices
from txinetd.core.access import decide, explainAddress
from txinetd.core.addressentries import AddressEntry
from txinetd.core.addresses import IPAddress, clientAddress
from txinetd.core.addresslists import AddressList
from txinetd.core.attributes import FailureFlag, Flag, LogKind, LogSpec, SuccessFlag
from txinetd.core.config import IDENT_PORT, ServiceConfig, ServiceKind
from txinetd.core.events import FailReason, Level, NoIdReason
from txinetd.core.libwrap import HostsAccess, libwrapDaemonName
from txinetd.core.limits import (
    CpsLimiter,
    LimitRules,
    LoadAverage,
    ProcessLimit,
    RunningServers,
    checkLimits,
    explainLimit,
)
from txinetd.core.logformat import (
    SYSLOG_FACILITIES,
    SYSLOG_LEVELS,
    displayAddress,
    formatBadIdentLine,
    formatExit,
    formatFail,
    formatNoid,
    formatStart,
    formatTraffic,
    formatUserid,
)
from txinetd.core.sensor import SensorList
from txinetd.core.times import TimeIntervals
from txinetd.daemon.observers import FileLogTarget, LogTarget, SyslogTarget, programMessage
from txinetd.net.acceptor import PendingConnection
from txinetd.net.systemd import ListenFds
from txinetd.net.tls import describeTLSFailure
from txinetd.serve.banners import BannerError, readBanner
from txinetd.serve.external import daemonUmask, defaultFileLimit
from txinetd.serve.hostsfiles import HostsFiles
from txinetd.serve.ident import NoId, UserId, queryIdent
from txinetd.serve.rpc import rpcByName

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


class LogTargets:
    """
    The service logs and their open targets.

    A target is opened once per C{log_type} value (one per FILE path and
    size limits, one per syslog facility and level) and shared by the
    services that name it.  A service log is made once per service id and
    follows the service's configuration: the sessions that began under an
    earlier configuration log through it, to the target of the current one,
    as xinetd's servers do.
    """

    def __init__(self, syslogPath: str = "/dev/log") -> None:
        self.syslogPath = syslogPath
        self._targets: dict[LogSpec, LogTarget] = {}
        self._serviceLogs: dict[str, ServiceLog] = {}

    def serviceLog(self, config: ServiceConfig, reactor: Any) -> ServiceLog:
        """
        The service log of C{config}'s service, set to C{config}.

        @param config: the service's current configuration.
        @param reactor: the clock that dates the entries.
        """
        target = self.forSpec(config.log_type, config.id)
        serviceLog = self._serviceLogs.get(config.id)
        if serviceLog is None:
            serviceLog = self._serviceLogs[config.id] = ServiceLog(config, target, reactor)
        else:
            serviceLog.configure(config, target)
        return serviceLog

    def forSpec(self, spec: LogSpec | None, serviceId: str) -> LogTarget | None:
        """
        The target of a C{log_type}, opened on first use; L{None} if there is
        none or it cannot be opened (the error is logged).
        """
        if spec is None:
            return None
        target = self._targets.get(spec)
        if target is None:
            target = self._open(spec, serviceId)
            if target is None:
                return None
            self._targets[spec] = target
        return target

    def _open(self, spec: LogSpec, serviceId: str) -> LogTarget | None:
        if spec.kind is LogKind.SYSLOG:
            assert spec.facility is not None
            return SyslogTarget(
                SYSLOG_FACILITIES[spec.facility],
                SYSLOG_LEVELS[spec.level],
                socketPath=self.syslogPath,
            )
        assert spec.path is not None
        try:
            return FileLogTarget(spec.path, spec.soft, spec.hard, logId=serviceId)
        except OSError as e:
            programMessage(Level.ERROR, f"Cannot open {serviceId} log {spec.path}: {e.strerror}")
            return None

    def reopen(self) -> None:
        """
        Reopen every FILE target (log rotation).
        """
        for target in self._targets.values():
            reopen = getattr(target, "reopen", None)
            if reopen is not None:
                reopen()

    def retain(self, serviceIds: Iterable[str]) -> None:
        """
        Keep the service logs of C{serviceIds} only, after a reconfiguration:
        the others stop writing (the remaining sessions of a removed service
        log nothing more), and the targets that no kept service log uses
        are closed and forgotten.
        """
        kept = set(serviceIds)
        for serviceId in [serviceId for serviceId in self._serviceLogs if serviceId not in kept]:
            self._serviceLogs.pop(serviceId).target = None
        used = {id(serviceLog.target) for serviceLog in self._serviceLogs.values()}
        for spec, target in list(self._targets.items()):
            if id(target) not in used:
                target.close()
                del self._targets[spec]

    def close(self) -> None:
        """
        Close every target; every service log stops writing.
        """
        self.retain(())


@dataclass(frozen=True)
class HostName:
    """
    What the resolver says of a client's address.

    @ivar name: the address's reverse name, or L{None} if it has none.
    @ivar paranoid: whether the name was checked and does not map back to
        the address (its forward lookup failed or did not give the address).
    """

    name: str | None
    paranoid: bool = False


#: No name: none was needed, or the address has none.
NO_NAME = HostName(None)


class ReverseLookup(TypingProtocol):
    """
    Finds the name of an address without blocking the reactor.
    """

    def __call__(self, address: str, verify: bool) -> Deferred[HostName]:
        """
        @param address: the client's address.
        @param verify: whether to check that the name maps back to the
            address (for hosts.allow and hosts.deny).
        @return: the address's name.
        """


NameInfo = Callable[[tuple[str, int], int], tuple[str, str]]
"""
L{socket.getnameinfo}'s signature, for the reverse lookup.
"""

AddressInfo = Callable[..., Sequence[tuple[Any, ...]]]
"""
L{socket.getaddrinfo}'s signature, for the forward lookup.
"""


def resolveHostName(
    address: str,
    verify: bool,
    getnameinfo: NameInfo = socket.getnameinfo,
    getaddrinfo: AddressInfo = socket.getaddrinfo,
) -> HostName:
    """
    Find the name of an address, blocking; with C{verify}, also look the
    name up and mark it paranoid unless the address is among the results,
    as TCP wrappers do.

    @param address: the client's address.
    @param verify: whether to check the name with a forward lookup.
    @param getnameinfo: the reverse resolver.
    @param getaddrinfo: the forward resolver.
    """
    try:
        name = getnameinfo((address, 0), socket.NI_NAMEREQD)[0]
    except OSError:
        return NO_NAME
    if not verify:
        return HostName(name)
    try:
        client = clientAddress(address)
        found = getaddrinfo(name, None, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return HostName(name, paranoid=True)
    return HostName(name, paranoid=not any(_isAddress(info[4][0], client) for info in found))


def _isAddress(text: str, client: IPAddress) -> bool:
    """
    Whether a forward lookup's address (perhaps with a C{%scope}) is
    C{client}.
    """
    try:
        return clientAddress(text.partition("%")[0]) == client
    except ValueError:
        return False


def threadedReverseLookup(
    reactor: Any,
    getnameinfo: NameInfo = socket.getnameinfo,
    getaddrinfo: AddressInfo = socket.getaddrinfo,
) -> ReverseLookup:
    """
    A L{ReverseLookup} through L{resolveHostName}, in the reactor's thread
    pool: the reverse and the forward lookup run in the same thread.

    @param reactor: the reactor, with its thread pool.
    @param getnameinfo: the reverse resolver.
    @param getaddrinfo: the forward resolver.
    """
    from twisted.internet.threads import deferToThreadPool

    def lookup(address: str, verify: bool) -> Deferred[HostName]:
        d: Deferred[HostName] = deferToThreadPool(
            reactor,
            reactor.getThreadPool(),
            resolveHostName,
            address,
            verify,
            getnameinfo,
            getaddrinfo,
        )
        return d

    return lookup


class BlockingRunner(TypingProtocol):
    """
    Runs work that may block without blocking the reactor.
    """

    def __call__(self, work: Callable[[], _T]) -> Deferred[_T]:
        """
        @return: fires with what C{work} returns.
        """


def inThreadPool(reactor: Any) -> BlockingRunner:
    """
    A L{BlockingRunner} on the reactor's thread pool.
    """
    from twisted.internet.threads import deferToThreadPool

    def run(work: Callable[[], _T]) -> Deferred[_T]:
        d: Deferred[_T] = deferToThreadPool(reactor, reactor.getThreadPool(), work)
        return d

    return run


def defaultIdentCap() -> int:
    """
    The daemon-wide bound on ident lookups running at once: a quarter of
    the daemon's descriptors (each lookup holds one), at least 16.
    """
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(16, soft // 4)


class IdentLookups:
    """
    Bounds the ident lookups running at once: the ones made for USERID on
    failure (C{-logprocs}), or every lookup of the daemon.

    @ivar limit: the most that may run at once.
    @ivar running: how many run now.
    @ivar parent: a bound the same lookups also count toward.
    @ivar onFull: called when a lookup is not started because this bound
        has just been reached (once, until a lookup ends).
    """

    def __init__(
        self,
        limit: int = 15,
        parent: IdentLookups | None = None,
        onFull: Callable[[int], None] | None = None,
    ) -> None:
        self.limit = limit
        self.running = 0
        self.parent = parent
        self.onFull = onFull
        self.full = False

    def _chain(self) -> list[IdentLookups]:
        return [self] if self.parent is None else [self, *self.parent._chain()]

    def run(self, lookup: Callable[[], Deferred[Any]]) -> Deferred[Any] | None:
        """
        Start C{lookup} unless this bound or a parent one is reached.

        @return: its L{Deferred}, or L{None} if it was not started.
        """
        chain = self._chain()
        for bound in chain:
            if bound.running >= bound.limit:
                if not bound.full and bound.onFull is not None:
                    bound.onFull(bound.limit)
                bound.full = True
                return None
        for bound in chain:
            bound.running += 1

        def done(result: object) -> object:
            for bound in chain:
                bound.running -= 1
                bound.full = False
            return result

        return lookup().addBoth(done)


def _identCapReached(limit: int) -> None:
    programMessage(
        Level.WARNING,
        f"{limit} ident lookups are running: no more are made until one ends "
        "(no USERID line; IDONLY services refuse with NOID)",
    )


@dataclass
class Daemon:
    """
    What every service shares.

    @ivar reactor: the reactor (and clock).
    @ivar logs: the service-log targets.
    @ivar sensor: the global SENSOR deny list (kept across reconfigurations).
    @ivar processes: the C{-limit} count of running servers.
    @ivar load: the load average.
    @ivar hostsAccess: fixed hosts.allow / hosts.deny rules, used when
        C{hostsFiles} is L{None}; L{None} for neither: libwrap is skipped.
    @ivar hostsFiles: the paths of hosts.allow and hosts.deny, kept current
        (see L{txinetd.serve.hostsfiles}) once L{rereadHostsAccess} is called.
    @ivar reverseLookup: address to name (and whether the name maps back).
    @ivar identPort: the ident port to query (113; other values for tests).
    @ivar identTimeout: how long a lookup may take (and IDONLY waits).
    @ivar identLookups: bounds the lookups for USERID on failure
        (C{-logprocs}); they count toward L{identCap} too.
    @ivar identCap: bounds every ident lookup of the daemon.
    @ivar environ: the environment captured at start-up, for servers.
    @ivar euid: the daemon's effective uid.
    @ivar fileLimit: the NOFILE limit of servers without C{rlimit_files}.
    @ivar umask: the umask of servers without C{umask}.
    @ivar spawner: the L{txinetd.spawn.spawner.Spawner} that starts servers.
    @ivar internals: the installed internal services.
    @ivar view: a read-only view of the daemon, for the introspection
        services.
    @ivar rpcByName: /etc/rpc look-ups, for RPC services.
    @ivar localTime: seconds to local time (for C{access_times}).
    @ivar listenFds: the listening sockets systemd passed.
    @ivar debug: whether each refusal is explained in a DEBUG program
        message naming the rule that refused (C{-d}).
    @ivar blocking: runs work that may block (reading banner files) off
        the reactor thread; the reactor's thread pool when L{None}.
    @ivar datagramPorts: the ports the daemon's datagram services listen
        on, each with how many services use it: a datagram from one of
        them is never answered (it would loop between two services, or a
        service and itself).
    """

    reactor: Any
    logs: LogTargets = field(default_factory=LogTargets)
    sensor: SensorList = field(default_factory=SensorList)
    processes: ProcessLimit = field(default_factory=lambda: ProcessLimit(None))
    load: LoadAverage = field(default_factory=LoadAverage.fromPath)
    hostsAccess: HostsAccess | None = None
    hostsFiles: tuple[str, str] | None = None
    reverseLookup: ReverseLookup | None = None
    identPort: int = IDENT_PORT
    identTimeout: float = 30.0
    identLookups: IdentLookups = field(default_factory=IdentLookups)
    identCap: IdentLookups = field(
        default_factory=lambda: IdentLookups(defaultIdentCap(), onFull=_identCapReached)
    )
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    euid: int = field(default_factory=os.geteuid)
    fileLimit: int = field(default_factory=defaultFileLimit)
    umask: int = field(default_factory=daemonUmask)
    spawner: Any = None
    internals: InternalServices = field(default_factory=InternalServices)
    view: Any = None
    rpcByName: Callable[[str], int | None] = rpcByName
    localTime: Callable[[float], time.struct_time] = time.localtime
    listenFds: ListenFds = field(default_factory=ListenFds)
    debug: bool = False
    hostsWatch: HostsFiles | None = None
    datagramPorts: Counter[int] = field(default_factory=Counter)
    blocking: BlockingRunner | None = None

    def __post_init__(self) -> None:
        self.identLookups.parent = self.identCap

    def runBlocking(self, work: Callable[[], _T]) -> Deferred[_T]:
        """
        Run C{work}, which may block (on a file), off the reactor thread:
        in the reactor's thread pool unless L{blocking} says otherwise.
        """
        if self.blocking is None:
            self.blocking = inThreadPool(self.reactor)
        return self.blocking(work)

    @property
    def usesLibwrap(self) -> bool:
        """
        Whether connections are checked against hosts.allow / hosts.deny.
        """
        return self.hostsFiles is not None or self.hostsAccess is not None

    def rereadHostsAccess(self) -> None:
        """
        Read hosts.allow / hosts.deny now (when the daemon is made); read
        them again before the next decision (on reconfiguration).
        """
        if self.hostsFiles is None:
            return
        if self.hostsWatch is None:
            self.hostsWatch = HostsFiles(self.reactor, *self.hostsFiles)
            self.hostsWatch.read()
        else:
            self.hostsWatch.invalidate()

    def startWatchingHosts(self) -> None:
        """
        Keep hosts.allow / hosts.deny current while the daemon runs.
        """
        if self.hostsWatch is None and self.hostsFiles is not None:
            self.rereadHostsAccess()
        if self.hostsWatch is not None:
            self.hostsWatch.start()

    def hostsAccessNow(self) -> tuple[bool, HostsAccess | None]:
        """
        The hosts.allow / hosts.deny rules to decide a connection that
        arrived now with, when they are known without reading anything.

        @return: whether they are known, and they (L{None}: none apply).
        """
        if self.hostsWatch is None:
            return True, self.hostsAccess
        access = self.hostsWatch.fresh()
        return access is not None, access

    def currentHostsAccess(self) -> Deferred[HostsAccess | None]:
        """
        The hosts.allow / hosts.deny rules to decide a connection that
        arrived now with (L{None}: none apply).
        """
        if self.hostsWatch is None:
            return succeed(self.hostsAccess)
        current: Deferred[HostsAccess | None] = self.hostsWatch.current()  # type: ignore[assignment]
        return current

    def stopWatchingHosts(self) -> None:
        """
        Stop watching hosts.allow / hosts.deny (the daemon stops).
        """
        if self.hostsWatch is not None:
            self.hostsWatch.stop()

    def lookupName(self, address: str, verify: bool = False) -> Deferred[HostName]:
        """
        The reverse name of an address; with C{verify}, also whether it maps
        back to the address.
        """
        if self.reverseLookup is None:
            self.reverseLookup = threadedReverseLookup(self.reactor)
        return self.reverseLookup(address, verify)


def _addressList(entries: tuple[AddressEntry, ...] | None) -> AddressList | None:
    return None if entries is None else AddressList(entries)


class ServiceLog:
    """
    The service-log lines of one service.
    """

    def __init__(self, config: ServiceConfig, target: LogTarget | None, reactor: Any) -> None:
        self.reactor = reactor
        self.configure(config, target)

    def configure(self, config: ServiceConfig, target: LogTarget | None) -> None:
        """
        Take the service's new configuration and target.
        """
        self.serviceId = config.id
        self.target = target
        self.success = frozenset(flag.value for flag in config.log_on_success)
        self.failure = frozenset(flag.value for flag in config.log_on_failure)

    def write(self, message: str | None) -> None:
        if message is not None and self.target is not None:
            self.target.writeService(message, self.reactor.seconds())

    def start(self, pid: int, host: str | None) -> None:
        self.write(formatStart(self.serviceId, self.success, pid, host))

    def exit(self, status: int | None, signal: int | None, pid: int, duration: float) -> None:
        self.write(formatExit(self.serviceId, self.success, status, signal, pid, duration))

    def fail(self, reason: FailReason, host: str | None) -> None:
        """
        Log a refusal.  A service without a log of its own (no
        C{log_type}, or its file could not be opened) has its refusals in
        the program log, with the client's address, so that none goes
        unseen (xinetd logs nothing).
        """
        if self.target is None:
            message = formatFail(self.serviceId, reason, self.failure or frozenset({"HOST"}), host)
            if message is not None:
                programMessage(Level.INFO, message)
            return
        self.write(formatFail(self.serviceId, reason, self.failure, host))

    def userid(self, text: str) -> None:
        self.write(formatUserid(self.serviceId, text))

    def noid(self, host: str | None, reason: NoIdReason) -> None:
        self.write(formatNoid(self.serviceId, host, reason))

    def traffic(self, bytesIn: int, bytesOut: int) -> None:
        if "TRAFFIC" in self.success:
            self.write(formatTraffic(self.serviceId, bytesIn, bytesOut))


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
        self.policy.log.start(pid, self.host)

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
        duration = self.policy.daemon.reactor.seconds() - self.started
        self.policy.log.exit(status, signal, self.pid, duration)

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
    @ivar daemon: the shared L{Daemon}.
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
        daemon: Daemon,
        running: RunningServers | None = None,
        onTrip: Callable[[int, str], None] = lambda wait, why: None,
    ) -> None:
        self.config = config
        self.daemon = daemon
        self.running = running if running is not None else RunningServers(daemon.processes)
        self.cps = CpsLimiter(config.cps.max)
        self.onTrip = onTrip
        self.log = daemon.logs.serviceLog(config, daemon.reactor)
        self.onlyFrom = _addressList(config.only_from)
        self.noAccess = _addressList(config.no_access)
        self.rules = LimitRules(
            instances=config.instances,
            perSource=config.per_source,
            maxLoad=config.max_load,
            accessTimes=config.access_times or TimeIntervals(),
        )
        self.libwrapName: str | None = None
        if daemon.usesLibwrap and Flag.NOLIBWRAP not in config.flags:
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

    # --- checks ------------------------------------------------------------

    def parentCheck(self, host: str | None, now: float) -> FailReason | None:
        """
        cps, load, access_times, instances, per_source and the process limit,
        in that order.
        """
        daemon = self.daemon
        localTime = daemon.localTime(now)
        limits = (self.cps, self.running, daemon.load, daemon.processes)
        reason = checkLimits(self.rules, host, now, localTime, *limits)
        if reason is not None and daemon.debug:
            self.explain(reason, host, explainLimit(reason, self.rules, host, localTime, *limits))
        if reason is FailReason.CPS:
            self.onTrip(self.config.cps.wait, "excessive incoming connections")
        elif reason is FailReason.LOAD:
            programMessage(Level.ERROR, f"refused connect from {host} due to excessive load")
        return reason

    def addressCheck(self, host: str | None) -> Deferred[FailReason | None]:
        """
        The SENSOR list, only_from / no_access and libwrap (with
        hosts.allow and hosts.deny as they are now).
        """
        if host is None or (self.unrestricted and not self.daemon.sensor):
            return succeed(None)
        hosts = None
        if self.libwrapName is not None:
            known, hosts = self.daemon.hostsAccessNow()
            if not known:
                return self.daemon.currentHostsAccess().addCallback(self._checkWith, host)
        return self._checkWith(hosts, host)

    def _checkWith(self, hosts: HostsAccess | None, host: str) -> Deferred[FailReason | None]:
        verify = self._hostsNeedName(hosts)
        if not (verify or self.listsNeedName):
            return succeed(self._decide(NO_NAME, host, hosts))
        return self.daemon.lookupName(host, verify).addCallback(self._decide, host, hosts)

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
        now = self.daemon.reactor.seconds()
        if self.config.kind is ServiceKind.SENSOR:
            self.sense(host, now)
            if self.daemon.debug:
                self.explain(FailReason.ADDRESS, host, "it touched a SENSOR service")
            return FailReason.ADDRESS
        if self.onlyFrom is not None or self.noAccess is not None or self.daemon.sensor:
            lists = (self.onlyFrom, self.noAccess, self.daemon.sensor, now)
            decision = decide(self.config.id, host, name.name, *lists)
            if decision.message is not None:
                programMessage(decision.message.level, decision.message.text)
            if not decision.allowed:
                if self.daemon.debug:
                    self.explain(FailReason.ADDRESS, host, explainAddress(host, name.name, *lists))
                return FailReason.ADDRESS
        if self.libwrapName is not None and hosts is not None and hosts.hasRules:
            rule = hosts.decidingRule(self.libwrapName, host, name.name, name.paranoid)
            if rule is not None and not rule.allows:
                programMessage(
                    Level.INFO,
                    f"libwrap refused connection to {self.config.id} "
                    f"(libwrap={self.libwrapName}) from {host}",
                )
                if self.daemon.debug:
                    self.explain(FailReason.LIBWRAP, host, f"{rule.where}: {rule.text}")
                return FailReason.LIBWRAP
        return None

    def explain(self, reason: FailReason, host: str | None, why: str) -> None:
        """
        Say in a DEBUG program message which rule refused a client (C{-d}).
        """
        programMessage(
            Level.DEBUG, f"{self.config.id}: {displayAddress(host)} refused ({reason.value}): {why}"
        )

    def sense(self, host: str, now: float) -> None:
        """
        A SENSOR service was touched: list the address for C{deny_time}.
        """
        minutes = self.config.deny_time
        message = self.daemon.sensor.add(host, now, None if minutes < 0 else minutes)
        if message is not None:
            programMessage(message.level, message.text)

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
        reading = self.daemon.runBlocking(lambda: [_readOrError(path) for path in wanted])
        return reading.addCallback(self._joinBanners, wanted)

    def _joinBanners(self, read: list[bytes | BannerError], paths: list[str]) -> bytes:
        for path, result in zip(paths, read, strict=True):
            if isinstance(result, BannerError):
                programMessage(
                    Level.ERROR, f"service = {self.config.id}, open of banner {path} failed"
                )
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
        reason = self.parentCheck(host, self.daemon.reactor.seconds())
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
        session = Session(self, host, self.daemon.reactor.seconds())
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
            self.log.fail(FailReason.TLS, session.host)
            programMessage(
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
            self.log.userid(local)
            starter(connection, session)
            return None
        idOnly = Flag.IDONLY in self.config.flags
        lookup = self.daemon.identCap.run(lambda: self.ident(connection, self.daemon.identTimeout))
        if lookup is None:
            # Too many lookups run already: none for this connection.
            if idOnly:
                self.log.noid(session.host, NoIdReason.SYSTEM_ERROR)
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
                self.log.noid(session.host, result.reason)
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
            self.daemon.reactor,
            connection.local[0],
            connection.peer[0],
            connection.peer[1],
            connection.local[1],
            timeout=timeout if timeout is not None else self.daemon.identTimeout,
            identPort=self.daemon.identPort,
        )

    def _logIdent(self, result: UserId | NoId, host: str | None) -> UserId | NoId:
        """
        Log what ident said: the USERID line, or a program-log error for a
        reply that could not be used.
        """
        if isinstance(result, UserId):
            self.log.userid(result.text)
        elif result.badLine is not None:
            programMessage(Level.ERROR, formatBadIdentLine(host, result.badLine))
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
        self.log.fail(reason, host)
        farewell = self.banners(self.config.banner, self.config.banner_fail)
        sent = farewell.addCallback(lambda data: connection.send(data) if data else None)
        sent.addBoth(lambda _: connection.close())
        if parent and FailureFlag.USERID in self.config.log_on_failure:
            lookup = self.daemon.identLookups.run(
                lambda: self.ident(connection, self.daemon.identTimeout)
            )
            if lookup is not None:
                lookup.addCallback(self._logIdent, host)

    # --- datagrams ---------------------------------------------------------

    def checkDatagram(self, peer: tuple[str, int]) -> Deferred[bool]:
        """
        The checks for one datagram of a dgram service: a datagram from one
        of the daemon's own datagram ports (L{Daemon.datagramPorts}) is
        refused for its address, before the limits count it; then the
        limits, then the address rules.  At most L{DGRAM_WAITING}
        datagrams wait for a name lookup at once; past that, one is refused
        with C{service_limit}.

        @return: whether to answer it; a refusal is logged (at most once a
            minute per sender).
        """
        host = peer[0]
        now = self.daemon.reactor.seconds()
        if peer[1] in self.daemon.datagramPorts:
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
                self.log.fail(reason, host)
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
    now = policy.daemon.reactor.seconds()
    if not policy.rules.accessTimes.contains(*_hourMinute(policy.daemon.localTime(now))):
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
