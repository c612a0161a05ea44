# -*- test-case-name: tests.integration.test_service_lifecycle -*-
"""
The service tree: one L{ListeningService} per configured service, and what
the daemon does as a whole: reconfiguration by signal, the state dump and the
consistency check, the SENSOR list's expiry, the pid file, and stopping
(every session ends).
"""

from __future__ import annotations

import os
import resource
import signal
from collections.abc import Callable
from typing import IO, Any, cast

from twisted.application.service import MultiService
from twisted.internet.defer import (
    Deferred,
    DeferredList,
    maybeDeferred,
    succeed,
)
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.logger import ILogObserver, Logger, globalLogPublisher
from twisted.python.components import Componentized
from twisted.python.failure import Failure

from txinetd import __version__
from txinetd.builtins.simple import InternalServices
from txinetd.core.config import Config, Listening, ServiceConfig
from txinetd.core.dump import ServiceState, formatDump
from txinetd.core.events import Level, Reloaded, ReloadResult
from txinetd.core.servertable import ServerState
from txinetd.daemon.logbatch import WriteBatch, holdEachWakeup
from txinetd.daemon.logtargets import TextLogFile
from txinetd.daemon.machine import Collaborators
from txinetd.daemon.pidfile import removePidFile, writePidFile
from txinetd.daemon.programlog import programMessage, reportDiagnostics
from txinetd.daemon.reload import CollectorPause, ReloadQueue, SignalDispatcher, planReload
from txinetd.daemon.safefiles import openForWriting
from txinetd.daemon.service import ListeningService
from txinetd.daemon.states import StateView, consistencyErrors, serverStates, serviceStates
from txinetd.daemon.stopping import STOP_GRACE, terminate
from txinetd.daemon.twistdlog import twistdLogObserver
from txinetd.net import systemd
from txinetd.serve.session import Session

log = Logger(namespace="txinetd")

__all__ = ["XinetdService", "installedWith"]

DEFAULT_DUMP_FILE = "/var/run/xinetd.dump"
SENSOR_SCAN_INTERVAL = 60


class XinetdService(MultiService):
    """
    The root of the service tree: one L{ListeningService} per service that
    listens, named by its id (services sharing an id get their port and
    protocol appended).
    """

    def __init__(
        self,
        config: Config,
        collaborators: Collaborators,
        programLog: ILogObserver | None = None,
        loader: Callable[[], Config] | None = None,
        loadInThread: bool = False,
        stayalive: bool = False,
        installSignals: bool = False,
        dumpFile: str = DEFAULT_DUMP_FILE,
        pidFile: str | None = None,
        consistencyInterval: int | None = None,
        twistdLog: TextLogFile | None = None,
        logBatch: WriteBatch | None = None,
    ) -> None:
        """
        @param config: the configuration, loaded with the installed internal
            services (L{txinetd.core.config.Config.internals}).
        @param collaborators: what the tree is built with.
        @param programLog: the observer of C{-filelog} or C{-syslog}.
        @param loader: reads the configuration anew, for reconfiguration.
        @param loadInThread: read the files of a reconfiguration in a thread.
        @param stayalive: keep running when a reconfiguration leaves no
            service.
        @param installSignals: install the reconfiguration signal handlers
            while running.
        @param dumpFile: where SIGABRT appends the state dump.
        @param pidFile: where to write the daemon's pid while it runs.
        @param consistencyInterval: check the bookkeeping this often
            (seconds).
        @param twistdLog: twistd's log file, which the tree installs as the
            log observer of the application it is added to, so that it is
            reopened with the other logs.
        @param logBatch: the batch the log files were opened with, held for
            each of the reactor's wake-ups while the tree runs (see
            L{txinetd.daemon.logbatch}).
        """
        super().__init__()
        self.config = config
        self.collaborators = collaborators
        self.shared = collaborators.shared
        self.reactor = reactor = self.shared.reactor
        self.internals = installedWith(config)
        self.view = StateView(self.serviceStates, self.serverStates)
        self.programLog = programLog
        self.twistdLog = twistdLog
        self.logBatch = logBatch
        self._releaseWakeups: Callable[[], None] | None = None
        self.loader = loader
        self.loadInThread = loadInThread
        self.reloads = ReloadQueue(self._reconfigure)
        self.collectorPause = CollectorPause(reactor)
        self.stayalive = stayalive
        self.shared.servers.spawner.setServiceParent(self)
        self.leaveServersRunning = False
        self.exitingLogged = False
        #: Removed services whose sessions may still run.
        self.retired: list[ListeningService] = []
        self.dumpFile = dumpFile
        self.pidFile = pidFile
        self.sensorScan = LoopingCall(self.expireSensor)
        self.sensorScan.clock = reactor
        self.checker: LoopingCall | None = None
        if consistencyInterval is not None:
            self.checker = LoopingCall(self.checkConsistency, periodic=True)
            self.checker.clock = reactor
            self.consistencyInterval = consistencyInterval
        self.signals: SignalDispatcher | None = None
        if installSignals:
            self.signals = SignalDispatcher(
                reactor,
                {
                    signal.SIGHUP: lambda: self.reconfigure(hard=True),
                    signal.SIGUSR2: lambda: self.reconfigure(hard=True),
                    signal.SIGUSR1: lambda: self.reconfigure(hard=False),
                    signal.SIGQUIT: self.quit,
                    signal.SIGABRT: self.checkAndDump,
                },
            )
        for serviceConfig in config.services:
            self.addListening(serviceConfig)

    def setServiceParent(self, parent: Any) -> None:
        """
        Join the application; with a twistd log file, make it the
        application's log observer, which twistd then uses instead of
        opening the file itself (it could not be reopened after rotation).
        """
        super().setServiceParent(parent)
        if self.twistdLog is not None and isinstance(parent, Componentized):
            # A text file as far as the observer is concerned: write and flush.
            logFile = cast(IO[Any], self.twistdLog)
            parent.setComponent(ILogObserver, twistdLogObserver(logFile))

    def reopenLogs(self) -> None:
        """
        Reopen every log file: the program log, twistd's log and the
        services' FILE logs (log rotation, on every reconfiguration signal).
        """
        reopen = getattr(self.programLog, "reopen", None)
        if reopen is not None:
            reopen()
        if self.twistdLog is not None:
            self.twistdLog.reopen()
        self.collaborators.logs.reopen()

    def addListening(self, config: ServiceConfig) -> ListeningService:
        """
        Add the service of a configuration to the tree (started at once if
        the tree runs).
        """
        child = ListeningService(
            config,
            self.shared,
            self.collaborators.openSockets,
            self.internals,
            self.view,
            self.tcpmuxTargets,
        )
        if child.name in self.namedServices:
            child.setName(self.uniqueName(config))
        child.setServiceParent(self)
        return child

    def listening(self) -> list[ListeningService]:
        """
        The services of the tree.
        """
        return [child for child in self if isinstance(child, ListeningService)]

    def tcpmuxTargets(self) -> list[ListeningService]:
        """
        The services clients reach through tcpmux.
        """
        return [
            child
            for child in self.listening()
            if child.config.listening is Listening.THROUGH_TCPMUX
        ]

    def available(self) -> list[ListeningService]:
        """
        The services that listen, or will again after a pause (as xinetd's
        available services).
        """
        return [
            child
            for child in self.listening()
            if child.port is not None or child.reactivation is not None
        ]

    def reconfigure(self, hard: bool) -> Deferred[None]:
        """
        Read the configuration anew and apply it: services whose identity
        is unchanged keep their socket and take the new attributes, removed
        ones stop (C{hard}: their sessions end too, and so do sessions the
        new rules refuse), new ones start.  An invalid configuration is
        rejected whole and the running one stays.  With C{loadInThread} the
        files are read in a thread, so the reactor keeps serving meanwhile.
        Every log file is reopened first (see L{reopenLogs}).
        A reconfiguration asked for while one runs follows it (see
        L{ReloadQueue}): the last configuration on disk is the one in effect.

        @return: fires once a reconfiguration that started after this call
            is done.
        """
        # The log files are reopened whatever becomes of the configuration:
        # logrotate's signal must not be lost to an invalid one.
        self.reopenLogs()
        if self.loader is None:
            return succeed(None)
        if self.reloads.running:
            programMessage(Level.NOTICE, "reconfiguration already in progress; another follows it")
        return self.reloads.request(hard)

    def _reconfigure(self, hard: bool) -> Deferred[None]:
        """
        One reconfiguration (see L{reconfigure}); L{ReloadQueue} runs one at
        a time.
        """
        assert self.loader is not None
        self.tellSystemd(systemd.reloading)
        programMessage(Level.NOTICE, "Starting reconfiguration")
        self.collectorPause.begin()
        if self.loadInThread:
            loading: Deferred[Config] = deferToThreadPool(
                self.reactor, self.reactor.getThreadPool(), self.loader
            )
        else:
            loading = maybeDeferred(self.loader)

        def done(result: object) -> None:
            if isinstance(result, Failure):
                log.failure("Reconfiguration failed", result)
                result = self.rejected(result.getErrorMessage())
            self.tellSystemd(systemd.ready, str(result))
            self.collectorPause.end()

        return loading.addCallback(self.applyConfig, hard).addBoth(done)

    def rejected(self, why: str) -> str:
        """
        Log that a reconfiguration failed and why, and that the running
        configuration stays.

        @return: the status for systemd.
        """
        programMessage(
            Level.WARNING, f"reconfiguration failed: {why}; the running configuration stays"
        )
        self.reloaded(ReloadResult.REJECTED)
        return (
            f"Reconfiguration failed: {why}; running the previous configuration, {self.counted()}"
        )

    def reloaded(self, result: ReloadResult) -> None:
        """
        Tell the observers every service shares what became of a
        reconfiguration (the metrics count it).
        """
        event = Reloaded(result, self.reactor.seconds())
        for observer in self.shared.observers:
            observer(event)

    def availableCount(self) -> int:
        """
        How many services listen.
        """
        return len([child for child in self.listening() if child.port is not None])

    def counted(self) -> str:
        """
        C{N available services}: how many services listen.
        """
        count = self.availableCount()
        return f"{count} available {'service' if count == 1 else 'services'}"

    def applyConfig(self, config: Config, hard: bool) -> str:
        """
        Apply a newly loaded configuration (see L{reconfigure}).

        @return: what txinetd runs now, for systemd's status.
        """
        if config.isFatal or config.errors:
            reportDiagnostics(config)
            count = len(config.errors)
            return self.rejected(f"{count} {'error' if count == 1 else 'errors'} in {config.path}")
        reportDiagnostics(config)
        programMessage(Level.NOTICE, "Swapping defaults")
        self.config = config
        self.internals = installedWith(config)
        self.shared.hosts.reread()
        plan = planReload(
            [(child, child.config) for child in self.listening()],
            config.services,
        )
        for child, newConfig in plan.kept:
            programMessage(Level.NOTICE, f"readjusting service {newConfig.id}")
            child.reconfigure(newConfig, hard, self.internals)
        for child in plan.removed:
            child.disownServiceParent()
            programMessage(Level.NOTICE, f"service {child.config.id} deactivated")
            self.retired.append(child)
            if hard:
                child.end(child.sessions())
        for newConfig in plan.added:
            self.addListening(newConfig)
        self.collaborators.logs.retain(child.config.id for child in self.owners())
        programMessage(Level.NOTICE, plan.summary())
        self.reloaded(ReloadResult.APPLIED)
        if not self.available() and not self.stayalive:
            programMessage(Level.CRITICAL, "No available services. Exiting")
            self.reactor.stop()
        return f"{plan.summary()}: {self.counted()}"

    def serviceStates(self) -> list[ServiceState]:
        """
        Every service's state, for the dump.
        """
        return serviceStates(self.listening())

    def serverStates(self) -> list[ServerState]:
        """
        Every running server or session, for the dump.
        """
        return serverStates(self.owners())

    def consistencyErrors(self) -> list[str]:
        """
        What is inconsistent in the daemon's bookkeeping.
        """
        return consistencyErrors(self.owners(), self.shared.processes.running)

    def expireSensor(self) -> None:
        """
        Take expired entries off the SENSOR list (every minute, as xinetd).
        """
        expiry = self.shared.sensor.expire(self.reactor.seconds())
        for message in expiry.messages:
            programMessage(message.level, message.text)

    def checkConsistency(self, periodic: bool = False) -> None:
        """
        Log what is inconsistent in the bookkeeping, or that nothing is: as
        xinetd, the periodic check of C{-cc} says it only with C{-d}.
        """
        errors = self.consistencyErrors()
        for error in errors:
            programMessage(Level.ERROR, error)
        if errors:
            programMessage(Level.WARNING, f"Consistency check detected {len(errors)} errors")
        elif not periodic or self.shared.debug:
            programMessage(Level.INFO, "Consistency check passed")

    def checkAndDump(self) -> None:
        """
        SIGABRT: check the bookkeeping and append the state dump to the dump
        file.
        """
        self.checkConsistency()
        text = formatDump(
            self.reactor.seconds(),
            self.config,
            self.serviceStates(),
            self.serverStates(),
            self.shared.processes.limit,
            len(self.shared.sensor),
            resource.getrlimit(resource.RLIMIT_NOFILE)[1],
            __version__,
        )
        try:
            descriptor = openForWriting(self.dumpFile, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(descriptor, text.encode("utf-8", "replace"))
            finally:
                os.close(descriptor)
        except OSError as e:
            programMessage(
                Level.ERROR, f"Cannot write the state dump to {self.dumpFile}: {e.strerror}"
            )
            return
        programMessage(Level.INFO, f"generated state dump in file {self.dumpFile}")

    def quit(self) -> None:
        """
        SIGQUIT: exit now, leaving running servers alone.
        """
        self.leaveServersRunning = True
        self.logExiting()
        self.reactor.stop()

    def logExiting(self) -> None:
        """
        Log C{Exiting...} (WARNING, as xinetd on SIGQUIT and SIGTERM), once
        however many of those signals arrive.
        """
        if not self.exitingLogged:
            self.exitingLogged = True
            programMessage(Level.WARNING, "Exiting...")

    @staticmethod
    def uniqueName(config: ServiceConfig) -> str:
        return f"{config.id}@{config.bindAddress}:{config.port}/{config.protocol}"

    def privilegedStartService(self) -> None:
        if self.programLog is not None:
            globalLogPublisher.addObserver(self.programLog)
        programMessage(
            Level.NOTICE,
            f"txinetd {__version__} started with libwrap loadavg options compiled in.",
        )
        reportDiagnostics(self.config)
        if self.pidFile is not None:
            writePidFile(self.pidFile)
        super().privilegedStartService()

    def startService(self) -> None:
        if self.logBatch is not None and self._releaseWakeups is None:
            self._releaseWakeups = holdEachWakeup(self.reactor, self.logBatch)
        if self.signals is not None:
            self.signals.install()
        self.shared.hosts.start()
        super().startService()
        self.sensorScan.start(SENSOR_SCAN_INTERVAL, now=False)
        if self.checker is not None:
            self.checker.start(self.consistencyInterval, now=False)
        # Announce (and tell systemd) only once the reactor runs, so that
        # its own SIGTERM handling is in place as well.
        if getattr(self.reactor, "running", True):
            self.announce()
        else:
            self.reactor.callWhenRunning(self.announce)

    def announce(self) -> None:
        """
        Log C{Started working: N available services} and tell systemd that
        txinetd is ready.
        """
        status = f"Started working: {self.counted()}"
        programMessage(Level.NOTICE, status)
        if not self.availableCount():
            programMessage(Level.NOTICE, self.noServiceReason())
        self.tellSystemd(systemd.ready, status)

    def tellSystemd(self, notify: Callable[..., object], *args: str) -> None:
        """
        Send systemd a notification, once the log lines held so far are
        written: whoever READY=1 wakes up finds the lines that led to it
        (C{Reconfigured: ...}) in the logs.
        """
        if self.logBatch is not None:
            self.logBatch.flush()
        notify(*args)

    def noServiceReason(self) -> str:
        """
        Why no service is available, and what to do about it.
        """
        config = self.config
        if config.services:
            why = "no service could start (see the errors above)"
        elif config.errors:
            why = f"no service is left in {config.path}: the enabled ones have errors (see above)"
        else:
            why = f"no service is enabled in {config.path}"
        return f"{why}; txinetd keeps running: enable a service and reconfigure (SIGHUP)"

    def stopService(self) -> Any:
        systemd.notify("STOPPING=1")
        if self._releaseWakeups is not None:
            # What the shutdown logs is written as it comes.
            self._releaseWakeups()
            self._releaseWakeups = None
        if stoppedBy(self.reactor) == signal.SIGTERM:
            # xinetd's SIGTERM ends with its SIGQUIT, which logs this.
            self.logExiting()
        if self.signals is not None:
            self.signals.uninstall()
        for loop in (self.sensorScan, self.checker):
            if loop is not None and loop.running:
                loop.stop()
        self.collectorPause.end()
        if self.pidFile is not None:
            removePidFile(self.pidFile)
        # Accept nothing more while the running servers end; the services
        # are stopped again, to no effect, with the rest of the tree.
        ending: Deferred[Any] = DeferredList(
            [maybeDeferred(child.stopService) for child in self.owners()]
        )
        if not self.leaveServersRunning:
            ending.addCallback(lambda _: self.endSessions())
        ending.addCallback(lambda _: super(XinetdService, self).stopService())
        ending.addCallback(self._stopped)
        return ending

    def _stopped(self, ignored: object) -> None:
        self.collaborators.logs.close()
        self.shared.hosts.stop()
        if self.programLog is not None:
            globalLogPublisher.removeObserver(self.programLog)

    def owners(self) -> list[ListeningService]:
        """
        The services of the tree, and the removed ones whose sessions still
        run.
        """
        self.retired = [child for child in self.retired if child.sessions() or child.ending]
        return self.listening() + self.retired

    def sessions(self) -> list[Session]:
        """
        Every running session of every service, removed ones included.
        """
        return [session for child in self.owners() for session in child.sessions()]

    def endSessions(self, grace: float = STOP_GRACE) -> Deferred[None]:
        """
        End every running session (see L{terminate}).
        """
        return terminate(self.reactor, self.sessions, grace)


def stoppedBy(reactor: object) -> int | None:
    """
    The signal that stopped the reactor (twistd's C{SIGTERM} and
    C{SIGINT}), as a reactor that provides
    L{twisted.internet.interfaces._ISupportsExitSignalCapturing} records
    it, or L{None}.
    """
    number = getattr(reactor, "_exitSignal", None)
    return number if isinstance(number, int) else None


def installedWith(config: Config) -> InternalServices:
    """
    The internal services C{config} was checked against, which serve it.

    @raise ValueError: if it was loaded without them (with a table of
        names, as tests load configurations).
    """
    if not isinstance(config.internals, InternalServices):
        raise ValueError(f"{config.path} was not loaded with the installed internal services")
    return config.internals
