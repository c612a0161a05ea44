"""
Tests for L{txinetd.serve.servers.stopServer}: how the session of an
external server ends it.
"""

from __future__ import annotations

import errno
import os
import signal
from types import SimpleNamespace
from typing import cast

from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.events import Level
from txinetd.serve.servers import stopServer
from txinetd.serve.session import Session
from txinetd.spawn.process import RunningProcess


class _Session:
    """
    What L{stopServer} tells a session.
    """

    def __init__(self) -> None:
        self.admission = SimpleNamespace(serviceId="wrap")
        self.told: list[tuple[Level, str]] = []

    def say(self, level: Level, text: str) -> None:
        self.told.append((level, text))


class StopServerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.sent: list[tuple[str, int, int]] = []
        self.refusal: OSError | None = None
        self.process = RunningProcess(
            42, 0.0, lambda *sent: self.record("kill", *sent), self.killpg
        )
        self.session = _Session()

    def record(self, call: str, pid: int, signum: int) -> None:
        self.sent.append((call, pid, signum))

    def killpg(self, pgid: int, signum: int) -> None:
        if self.refusal is not None:
            raise self.refusal
        self.record("killpg", pgid, signum)

    def stop(self, force: bool) -> None:
        stopServer(self.process, cast(Session, self.session), force)

    def test_group(self) -> None:
        """
        The server's process group gets SIGTERM, or SIGKILL when forced.
        """
        self.stop(False)
        self.stop(True)
        self.assertEqual(
            self.sent, [("killpg", 42, signal.SIGTERM), ("killpg", 42, signal.SIGKILL)]
        )
        self.assertEqual(self.session.told, [])

    def test_refusedIsLogged(self) -> None:
        """
        A group the daemon may not signal is an error in the program log.
        """
        self.refusal = PermissionError(errno.EPERM, os.strerror(errno.EPERM))
        self.stop(False)
        self.assertEqual(self.sent, [])
        self.assertEqual(
            self.session.told,
            [
                (
                    Level.ERROR,
                    "Sending signal 15 to wrap server 42 failed: Operation not permitted "
                    "(errno = 1)",
                )
            ],
        )
