# -*- test-case-name: tests.differential.test_xinetd -*-
"""
Debian's xinetd and txinetd run side by side on one configuration, for the
differential tests.

Each peer gets the same configuration text with ports and paths of its own
(a template filled in by L{Peers.start}), runs in the foreground (xinetd:
C{-dontfork -f CONF -filelog PROGRAM-LOG}; txinetd: C{twistd -n xinetd -f
CONF -filelog PROGRAM-LOG}) on the test's network namespace (see
C{tests/conftest.py}), and sees empty hosts.allow and hosts.deny files:
txinetd through its options, xinetd (whose libwrap reads
C{/etc/hosts.allow} and C{/etc/hosts.deny}) through a mount namespace of
its own where empty files are mounted over them.  Both are stopped with
SIGTERM when the test ends.

The service log of each is read back as messages: the C{YY/M/D@HH:MM:SS: }
prefix checked and dropped.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.trial.unittest import SkipTest, TestCase

from tests.integration.support import (
    CollectingProcess,
    freePorts,
    hostsOptions,
    pollUntil,
    reactor,
    requireOwnNetwork,
    withTimeout,
)

XINETD = "/usr/sbin/xinetd"
TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: The environment both daemons start with.
ENVIRON = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}

#: A line of a FILE service log: C{YY/M/D@HH:MM:SS: message}.
SERVICE_LINE = re.compile(r"\d\d/\d{1,2}/\d{1,2}@\d\d:\d\d:\d\d: (?P<message>.*)")

#: Mounts empty files over the machine's hosts.allow and hosts.deny, then
#: runs its arguments (in a mount namespace of its own) without the PWD
#: variable that the shell added.
PRIVATE_HOSTS = (
    "for file in /etc/hosts.allow /etc/hosts.deny; do "
    '[ ! -e "$file" ] || mount --bind "$0" "$file" || exit 1; done; unset PWD; exec "$@"'
)


@dataclass
class Peer:
    """
    One daemon under comparison.

    @ivar name: C{xinetd} or C{txinetd}.
    @ivar directory: where its configuration and logs are.
    @ivar ports: its ports, by the name the template gives them.
    """

    name: str
    directory: str
    ports: dict[str, int] = field(default_factory=dict)
    process: Any = None
    running: CollectingProcess = field(default_factory=CollectingProcess)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    @property
    def serviceLog(self) -> str:
        return self.path("service.log")

    @property
    def programLog(self) -> str:
        return self.path("program.log")

    def read(self, name: str) -> list[str]:
        """
        The lines of a file of the peer's directory (none if it is missing).
        """
        try:
            with open(self.path(name), encoding="utf-8", errors="replace") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def messages(self) -> list[str]:
        """
        The service log's messages, without their timestamps.

        @raise AssertionError: if a line is not C{<timestamp>: <message>}.
        """
        messages = []
        for line in self.read("service.log"):
            match = SERVICE_LINE.fullmatch(line)
            if match is None:
                raise AssertionError(f"{self.name}: not a service-log line: {line!r}")
            messages.append(match["message"])
        return messages

    def program(self) -> str:
        """
        The program log and what the process printed.
        """
        text = "\n".join(self.read("program.log"))
        return text + "\n" + self.running.output.decode("utf-8", "replace")

    def argv(self, config: str) -> list[str]:
        """
        The command that runs this peer on C{config}.
        """
        if self.name == "txinetd":
            # Run by this interpreter, not through the script's shell
            # trampoline of a deep checkout, which would add PWD.
            return [
                sys.executable, TWISTD, "-n", "--pidfile=", "xinetd", "-f", config,
                "-filelog", self.programLog, *hostsOptions(self.directory),
            ]  # fmt: skip
        empty = self.path("empty")
        with open(empty, "w"):
            pass
        unshare = shutil.which("unshare")
        assert unshare is not None
        return [
            unshare, "--mount", "--propagation", "private", "--",
            "sh", "-c", PRIVATE_HOSTS, empty,
            XINETD, "-dontfork", "-f", config, "-filelog", self.programLog,
        ]  # fmt: skip

    def signal(self, number: int) -> None:
        """
        Send a signal to the daemon (xinetd is the process C{unshare}
        executed into, through C{sh}'s C{exec}: the same pid).
        """
        os.kill(self.process.pid, number)

    def stop(self) -> Deferred[None]:
        if self.process.pid is not None:
            self.process.signalProcess(signal.SIGTERM)
        return withTimeout(self.running.ended, 30)


class Peers:
    """
    xinetd and txinetd, started on one configuration template.

    @ivar xinetd: Debian's xinetd.
    @ivar txinetd: txinetd under twistd.
    """

    def __init__(self, case: TestCase) -> None:
        requireOwnNetwork()
        if not os.access(XINETD, os.X_OK):
            raise SkipTest("Debian's xinetd is not installed (package xinetd)")
        if shutil.which("unshare") is None:
            raise SkipTest("unshare is not installed (package util-linux)")
        self.case = case
        base = tempfile.mkdtemp(prefix="txinetd-diff-")
        os.chmod(base, 0o755)
        case.addCleanup(shutil.rmtree, base, True)
        self.xinetd, self.txinetd = (
            Peer(name, os.path.join(base, name)) for name in ("xinetd", "txinetd")
        )
        for peer in self:
            os.mkdir(peer.directory)
            os.chmod(peer.directory, 0o755)

    def __iter__(self) -> Generator[Peer, None, None]:
        yield self.xinetd
        yield self.txinetd

    @inlineCallbacks
    def start(
        self, template: str, ports: Sequence[str] = (), **values: str
    ) -> Generator[Deferred[Any], Any, None]:
        """
        Start both peers, each on C{template} filled in with its own
        C{{log}} (the service log), C{{directory}}, a free port for each
        name of C{ports} and C{values}; fire once both work.
        """
        free = iter(freePorts(2 * len(ports)))
        for peer in self:
            peer.ports = {name: next(free) for name in ports}
            text = template.format(
                log=peer.serviceLog, directory=peer.directory, **peer.ports, **values
            )
            config = peer.path("xinetd.conf")
            with open(config, "w") as f:
                f.write(text)
            argv = peer.argv(config)
            peer.process = reactor.spawnProcess(peer.running, argv[0], argv, env=ENVIRON, path=ROOT)
            self.case.addCleanup(peer.stop)
        yield gatherResults([self.started(peer) for peer in self])

    def started(self, peer: Peer) -> Deferred[bool]:
        def check() -> bool | None:
            if peer.running.ended.called:
                raise AssertionError(f"{peer.name} ended: {peer.program()}")
            return "Started working" in peer.program() or None

        return pollUntil(check, lambda: f"{peer.name} to start: {peer.program()}", 30)

    @inlineCallbacks
    def both(
        self, probe: Callable[[Peer], Deferred[Any]]
    ) -> Generator[Deferred[Any], Any, dict[str, Any]]:
        """
        Run C{probe} against each peer in turn.

        @return: each peer's result, by name.
        """
        results = {}
        for peer in self:
            results[peer.name] = yield probe(peer)
        return results

    def messagesOnce(
        self, settled: Callable[[Peer, list[str]], bool]
    ) -> Deferred[dict[str, list[str]]]:
        """
        Each peer's service-log messages, once C{settled} says both have
        written what is awaited.
        """

        def check() -> dict[str, list[str]] | None:
            found = {peer.name: peer.messages() for peer in self}
            return found if all(settled(peer, found[peer.name]) for peer in self) else None

        return pollUntil(
            check, lambda: f"the service logs: { {p.name: p.messages() for p in self} }"
        )


def masked(messages: Sequence[str], patterns: Mapping[str, str]) -> list[str]:
    """
    C{messages} with every match of each pattern replaced by its text.
    """
    found = []
    for message in messages:
        for pattern, replacement in patterns.items():
            message = re.sub(pattern, replacement, message)
        found.append(message)
    return found
