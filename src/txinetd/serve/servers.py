# -*- test-case-name: tests.integration.test_external,tests.integration.test_wait -*-
"""
External servers, from the connection's side: a server started for each
admitted connection (L{ServerRunner}), and the listening socket of a C{wait
= yes} service handed to one server at a time (L{HandOver}).

A server is counted from the moment its process exists until it is reaped:
START is logged once it has executed, EXIT when it is reaped; a server that
could not be started gets a FAIL line (C{fork} when no process was made,
C{execv} otherwise) and the daemon goes on.
"""

from __future__ import annotations

import errno
import signal
import socket
from collections.abc import Callable
from typing import Protocol as TypingProtocol

from twisted.python.failure import Failure

from txinetd.core.config import Listening, ServiceConfig
from txinetd.core.events import FailReason, Level
from txinetd.core.values import SocketType
from txinetd.net.acceptor import DESCRIPTOR_ERRORS, PendingConnection, asIPv4
from txinetd.net.readers import acceptAndClose, discardDatagrams, peekSender
from txinetd.serve.admission import Admission
from txinetd.serve.datagrams import DatagramChecks
from txinetd.serve.external import clientEnvironment, serverSpec
from txinetd.serve.session import Session
from txinetd.serve.shared import Shared
from txinetd.spawn.spawner import ProcessExit, RunningProcess, SpawnError, SpawnSpec

__all__ = ["HandOver", "ServerRunner", "execHint", "stopServer"]

#: The spawn operations whose failure means that no process was made.
_FORK_OPERATIONS = frozenset({"fork"})

#: What an administrator looks at when a server cannot be executed.
_EXEC_HINTS = {
    errno.ENOENT: "the server, or the interpreter its #! line names, does not exist",
    errno.ENOEXEC: "the server is not a program and has no #! line",
    errno.EACCES: "the server, or a directory on its path, may not be executed by its user",
}


def execHint(error: SpawnError) -> str:
    """
    What to check when a server could not be executed, after the
    program-log line: C{; the server, or the interpreter its #! line names,
    does not exist}.
    """
    hint = _EXEC_HINTS.get(error.errno or 0) if error.operation == "execve" else None
    return "" if hint is None else f"; {hint}"


class ServerRunner:
    """
    Starts a service's server: on each admitted connection (C{wait = no}),
    or with the listening socket (L{HandOver}).

    @ivar spec: what the servers are started with, made at the first.
    """

    def __init__(
        self,
        config: ServiceConfig,
        shared: Shared,
        exhausted: Callable[[int], None],
        addrformFailures: set[int | None],
    ) -> None:
        """
        @param exhausted: told when a server could not be started for want
            of descriptors (the service pauses, as when accept() fails).
        @param addrformFailures: the errnos of C{IPV6_ADDRFORM} failures
            the service has logged (each is logged once per service).
        """
        self.config = config
        self.shared = shared
        self.exhausted = exhausted
        self.addrformFailures = addrformFailures
        self.spec: SpawnSpec | None = None

    def run(self, connection: PendingConnection, session: Session) -> None:
        """
        Start the server of an admitted connection; txinetd's copy of the
        socket is closed (never shut down) once the server has its own.
        """
        self.toIPv4(connection)
        try:
            process = self.launch(connection.peer, connection.fileno(), connection.environment)
        except SpawnError as e:
            self.failed(e, session)
            if e.operation == "fork" and e.errno in DESCRIPTOR_ERRORS:
                self.exhausted(e.errno)
            return
        finally:
            connection.close()
        self.launched(process, session)

    def launch(
        self, peer: tuple[str, int] | None, fd: int, extra: dict[str, str] | None = None
    ) -> RunningProcess:
        """
        Start the server for a client with C{fd} on its fds 0-2 (C{extra}:
        more environment variables).

        @raise SpawnError: if no child could be started.
        """
        servers = self.shared.servers
        if self.spec is None:
            # Once per configuration: only the client's variables change.
            self.spec = serverSpec(
                self.config, servers.environ, servers.euid, servers.fileLimit, servers.umask
            )
        process: RunningProcess = servers.spawner.launch(
            self.spec, fd, clientEnvironment(peer, extra)
        )
        return process

    def launched(self, process: RunningProcess, session: Session) -> None:
        """
        A child exists for C{session}: it is a server until it is reaped, and
        stopping the session signals it (L{stopServer}).  START is logged
        once it runs.
        """
        session.stopWith(lambda force: stopServer(process, session, force))
        executed = process.whenExecuted()
        executed.addCallback(_started, session)
        executed.addErrback(self._notExecuted, session)

    def _notExecuted(self, failure: Failure, session: Session) -> None:
        self.failed(failure.value, session)

    def failed(self, error: BaseException | None, session: Session) -> None:
        """
        A server could not be started: log why in the program log and a
        FAIL line in the service log (C{fork} when no process could be
        made, C{execv} otherwise).
        """
        reason = FailReason.EXEC
        if isinstance(error, SpawnError):
            session.say(Level.ERROR, error.describe() + execHint(error))
            if error.operation in _FORK_OPERATIONS:
                reason = FailReason.FORK
        else:
            session.say(Level.ERROR, f"execv( {self.config.server} ) failed: {error}")
        session.fail(reason)

    def toIPv4(self, connection: PendingConnection) -> None:
        """
        Make the connection of an IPv4 client on a dual-stack socket (one
        systemd passed; txinetd's own are never dual-stack) an AF_INET one
        for its server.  A kernel without C{IPV6_ADDRFORM} cannot: the
        server then sees C{::ffff:a.b.c.d}, which is logged at WARNING (as
        xinetd does) once per service and reason.
        """
        try:
            asIPv4(connection)
        except OSError as e:
            if e.errno in self.addrformFailures:
                return
            self.addrformFailures.add(e.errno)
            self.shared.say(
                Level.WARNING,
                f"service {self.config.id}, IPV6_ADDRFORM setsockopt() failed: "
                f"{e.strerror} (errno = {e.errno})",
            )


def stopServer(process: RunningProcess, session: Session, force: bool) -> None:
    """
    End the server of C{session}: SIGTERM (C{force}: SIGKILL) to its process
    group, which its children share unless they left it.  A signal that
    could not be sent is logged.
    """
    signum = signal.SIGKILL if force else signal.SIGTERM
    try:
        process.signal(signum)
    except OSError as e:
        session.say(
            Level.ERROR,
            f"Sending signal {signum.value} to {session.admission.serviceId} server "
            f"{process.pid} failed: {e.strerror} (errno = {e.errno})",
        )


def _started(process: RunningProcess, session: Session) -> RunningProcess:
    """
    A server runs for C{session}: log START, and EXIT when it is reaped.
    """
    session.begin(process.pid)
    process.whenExited().addCallback(_exited, session)
    return process


def _exited(exit: ProcessExit, session: Session) -> None:
    status = exit.status
    if status is None and exit.signal is None:
        status = -1
    session.ended(status, exit.signal)


class WaitingService(TypingProtocol):
    """
    The C{wait = yes} service a L{HandOver} works for, as it is now (its
    configuration, admission and runner change with a reconfiguration; its
    socket stays).
    """

    config: ServiceConfig
    admission: Admission
    datagrams: DatagramChecks
    runner: ServerRunner
    socket: socket.socket | None

    def pauseListening(self) -> None: ...

    def resumeListening(self) -> None: ...


class HandOver:
    """
    C{wait = yes}: when a connection is pending or a datagram is queued on
    the listening socket, the socket itself is given to one server (on its
    fds 0-2), and watched again only once that server has exited.
    """

    def __init__(self, service: WaitingService) -> None:
        self.service = service

    @property
    def onReadable(self) -> Callable[[], None]:
        """
        What to call when the listening socket is readable.
        """
        if self.service.config.listening is Listening.HAND_OVER_STREAM:
            return self.connectionPending
        return self.datagramQueued

    def connectionPending(self) -> None:
        """
        A connection is pending: check the limits, then hand over.
        """
        service = self.service
        service.pauseListening()
        reason = service.admission.checkLimits(None)
        if reason is not None:
            service.admission.failed(reason, None)
            if service.socket is not None:
                acceptAndClose(service.socket)
            service.resumeListening()
            return
        self.handOver(None)

    def datagramQueued(self) -> None:
        """
        A datagram is queued: check its sender, then hand over; once the
        server has exited, what is left queued is discarded.
        """
        service = self.service
        if service.socket is None:
            return
        sender = peekSender(service.socket)
        if sender is None:
            return
        service.pauseListening()
        checked = service.datagrams.check(sender)
        checked.addCallback(self._datagramChecked, sender)

    def _datagramChecked(self, allowed: bool, sender: tuple[str, int]) -> None:
        service = self.service
        if service.socket is None:
            return
        if not allowed:
            discardDatagrams(service.socket, limit=1)
            service.resumeListening()
            return
        self.handOver(sender)

    def handOver(self, peer: tuple[str, int] | None) -> None:
        """
        Start a server with the listening socket itself on its fds 0-2.
        """
        service = self.service
        assert service.socket is not None
        host, port = peer if peer is not None else (None, None)
        session = service.admission.reserve(host, port)
        runner = service.runner
        try:
            process = runner.launch(peer, service.socket.fileno())
        except SpawnError as e:
            runner.failed(e, session)
            self._serverGone(None)
            return
        runner.launched(process, session)
        # Whether it ran or not, the socket is watched again once it is reaped.
        gone = process.whenExecuted().addCallback(lambda _: process.whenExited())
        gone.addBoth(self._serverGone)

    def _serverGone(self, ignored: object) -> None:
        service = self.service
        if service.socket is not None and service.config.socket_type is SocketType.DGRAM:
            discardDatagrams(service.socket)
        service.resumeListening()
