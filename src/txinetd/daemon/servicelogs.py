# -*- test-case-name: tests.daemon.test_servicelogs -*-
"""
xinetd's service logs: each service's sessions' events written as xinetd's
lines (C{START}, C{EXIT}, C{FAIL}, C{USERID}, C{NOID}, C{TRAFFIC}) to the
service's C{log_type}, and the program messages they carry to the program
log.

A L{ServiceLog} is the observer (L{txinetd.core.events.SessionObserver}) of
one service's sessions.  L{LogTargets} makes them: once per service id,
following the service's configuration (the sessions that began under an
earlier configuration log through it, to the target of the current one, as
xinetd's servers do), and opens each target once per C{log_type} value,
shared by the services that name it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from txinetd.core.config import ServiceConfig
from txinetd.core.events import (
    Exited,
    Failed,
    Level,
    NotIdentified,
    ProgramLog,
    ProgramMessage,
    SessionEvent,
    Started,
    Traffic,
    UserIdentified,
)
from txinetd.core.logformat import (
    SYSLOG_FACILITIES,
    SYSLOG_LEVELS,
    LogTarget,
    formatExit,
    formatFail,
    formatNoid,
    formatStart,
    formatTraffic,
    formatUserid,
)
from txinetd.core.values import LogKind, LogSpec
from txinetd.daemon.logbatch import WriteBatch
from txinetd.daemon.logtargets import FileLogTarget, SyslogTarget

__all__ = ["LogTargets", "ServiceLog"]


class ServiceLog:
    """
    The xinetd log of one service: what its sessions' events are in
    xinetd's words.

    @ivar target: where the service's lines go, L{None} for nowhere (no
        C{log_type}, a file that cannot be opened, a removed service).
    @ivar say: writes to the program log.
    """

    def __init__(self, config: ServiceConfig, target: LogTarget | None, say: ProgramLog) -> None:
        self.say = say
        self.configure(config, target)

    def configure(self, config: ServiceConfig, target: LogTarget | None) -> None:
        """
        Take the service's new configuration and target.
        """
        self.serviceId = config.id
        self.target = target
        self.success = frozenset(flag.value for flag in config.log_on_success)
        self.failure = frozenset(flag.value for flag in config.log_on_failure)

    def __call__(self, event: SessionEvent) -> None:
        """
        Write one event.
        """
        _WRITERS[type(event)](self, event)

    def _write(self, message: str | None, when: float) -> None:
        if message is not None and self.target is not None:
            self.target.writeService(message, when)

    def _started(self, event: Started) -> None:
        self._write(formatStart(self.serviceId, self.success, event.pid, event.host), event.when)

    def _exited(self, event: Exited) -> None:
        message = formatExit(
            self.serviceId, self.success, event.status, event.signal, event.pid, event.duration
        )
        self._write(message, event.when)

    def _failed(self, event: Failed) -> None:
        """
        A refusal.  A service without a log of its own (no C{log_type}, or
        its file could not be opened) has its refusals in the program log,
        with the client's address, so that none goes unseen (xinetd logs
        nothing).
        """
        if self.target is None:
            flags = self.failure or frozenset({"HOST"})
            message = formatFail(self.serviceId, event.reason, flags, event.host)
            if message is not None:
                self.say(Level.INFO, message)
            return
        self._write(formatFail(self.serviceId, event.reason, self.failure, event.host), event.when)

    def _identified(self, event: UserIdentified) -> None:
        self._write(formatUserid(self.serviceId, event.text), event.when)

    def _notIdentified(self, event: NotIdentified) -> None:
        self._write(formatNoid(self.serviceId, event.host, event.reason), event.when)

    def _traffic(self, event: Traffic) -> None:
        if "TRAFFIC" in self.success:
            self._write(formatTraffic(self.serviceId, event.bytesIn, event.bytesOut), event.when)

    def _said(self, event: ProgramMessage) -> None:
        self.say(event.level, event.text)


_WRITERS: dict[type, Callable[[ServiceLog, SessionEvent], None]] = {
    Started: ServiceLog._started,  # type: ignore[dict-item]
    Exited: ServiceLog._exited,  # type: ignore[dict-item]
    Failed: ServiceLog._failed,  # type: ignore[dict-item]
    UserIdentified: ServiceLog._identified,  # type: ignore[dict-item]
    NotIdentified: ServiceLog._notIdentified,  # type: ignore[dict-item]
    Traffic: ServiceLog._traffic,  # type: ignore[dict-item]
    ProgramMessage: ServiceLog._said,  # type: ignore[dict-item]
}


class LogTargets:
    """
    The service logs and their open targets (see the module's docstring):
    the daemon's L{txinetd.serve.shared.ServiceLogs}.

    @ivar syslogPath: the local syslog socket.
    @ivar say: writes to the program log.
    """

    def __init__(
        self, say: ProgramLog, syslogPath: str = "/dev/log", batch: WriteBatch | None = None
    ) -> None:
        """
        @param batch: what FILE targets keep their lines for while it is
            held (see L{txinetd.daemon.logbatch}).
        """
        self.say = say
        self.syslogPath = syslogPath
        self.batch = batch
        self._targets: dict[LogSpec, LogTarget] = {}
        self._serviceLogs: dict[str, ServiceLog] = {}

    def serviceLog(self, config: ServiceConfig) -> ServiceLog:
        """
        The service log of C{config}'s service, set to C{config}.

        @param config: the service's current configuration.
        """
        target = self.forSpec(config.log_type, config.id)
        serviceLog = self._serviceLogs.get(config.id)
        if serviceLog is None:
            serviceLog = self._serviceLogs[config.id] = ServiceLog(config, target, self.say)
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
                onProgramMessage=self.say,
            )
        assert spec.path is not None
        try:
            return FileLogTarget(
                spec.path,
                spec.soft,
                spec.hard,
                onProgramMessage=self.say,
                logId=serviceId,
                batch=self.batch,
            )
        except OSError as e:
            self.say(Level.ERROR, f"Cannot open {serviceId} log {spec.path}: {e.strerror}")
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
