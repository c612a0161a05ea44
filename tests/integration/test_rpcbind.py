# -*- test-case-name: tests.integration.test_rpcbind -*-
"""
L{txinetd.serve.rpc} against a real rpcbind, checked with C{rpcinfo}.

rpcbind runs in the foreground in the test's own network namespace (see
C{tests/conftest.py}), where it listens on port 111 of every address there
is, only the loopback, and in a mount namespace of its own with a private
/run, so that its socket, lock and state files never touch the machine's.
Needs root, the Debian package rpcbind (C{rpcbind} and C{rpcinfo}) and
util-linux's C{unshare}; the tests are skipped without them.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable, Generator
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SkipTest, TestCase

from txinetd.serve.rpc import pmapSetFailed, register, unregister

from .support import CollectingProcess, reactor, requireOwnNetwork

Generated = Generator[Deferred[Any], Any, None]
Mappings = list[tuple[int, str, int]]
SBIN = "/usr/sbin:/sbin:/usr/bin:/bin"
PROGRAM = 300333
PORT = 4444
#: rpcbind, in a mount namespace whose /run is a new tmpfs.
START = "mount -t tmpfs -o mode=0755 tmpfs /run && exec rpcbind -f"


def command(name: str, package: str) -> str:
    """
    The path of C{name}; skip the test if it is missing.
    """
    path = shutil.which(name, path=SBIN)
    if path is None:
        raise SkipTest(f"{name} is not installed (Debian package {package})")
    return path


def mappings(listing: bytes, program: int) -> Mappings:
    """
    The (version, protocol, port) rows of C{rpcinfo -p} for a program.
    """
    rows = []
    for line in listing.decode().splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0] == str(program):
            rows.append((int(fields[1]), fields[2], int(fields[3])))
    return sorted(rows)


class Rpcbind:
    """
    A real rpcbind in the test's network namespace and a mount namespace of
    its own; it is stopped when the test ends.
    """

    def __init__(self, case: TestCase) -> None:
        self.case = case
        requireOwnNetwork()
        rpcbind = command("rpcbind", "rpcbind")
        self.rpcinfo = command("rpcinfo", "rpcbind")
        unshare = command("unshare", "util-linux")
        self.process = CollectingProcess()
        argv = [unshare, "--mount", "--propagation", "private", "sh", "-c", START]
        self.spawned = reactor.spawnProcess(
            self.process,
            argv[0],
            argv,
            env={"PATH": f"{os.path.dirname(rpcbind)}:{SBIN}"},
        )
        case.addCleanup(self.stop)

    def stop(self) -> Deferred[None]:
        if not self.process.ended.called:
            self.spawned.signalProcess(signal.SIGTERM)
        return self.process.ended

    def run(self, *args: str) -> Deferred[tuple[bytes, bytes, int]]:
        """
        Run C{rpcinfo} with C{args}.
        """
        result: Deferred[tuple[bytes, bytes, int]] = getProcessOutputAndValue(
            self.rpcinfo, args, env={"PATH": SBIN}
        )
        return result

    @inlineCallbacks
    def ready(self) -> Generated:
        """
        Fire once rpcbind answers C{rpcinfo -p} (within 5 s).
        """
        for _ in range(50):
            if self.process.ended.called:
                self.case.fail(f"rpcbind did not start: {self.process.output.decode()!r}")
            _, _, status = yield self.run("-p", "127.0.0.1")
            if status == 0:
                return
            yield deferLater(reactor, 0.1, lambda: None)
        self.case.fail("rpcbind did not answer within 5 s")

    @inlineCallbacks
    def mappingsOnceSettled(
        self, program: int, settled: Callable[[Mappings], bool]
    ) -> Generator[Deferred[Any], Any, Mappings]:
        """
        The mappings of C{program}, polled every 0.1 s (at most 50 times)
        until rpcbind answers with mappings that are C{settled}; the last
        ones seen if that never happens.
        """
        listed: Mappings = []
        for _ in range(50):
            out, _, status = yield self.run("-p", "127.0.0.1")
            listed = mappings(out, program)
            if status == 0 and settled(listed):
                break
            yield deferLater(reactor, 0.1, lambda: None)
        return listed


class RpcbindTests(TestCase):
    """
    Registration and deregistration seen by a real rpcbind.
    """

    timeout = 30

    def setUp(self) -> Deferred[None]:  # type: ignore[override]
        self.rpcbind = Rpcbind(self)
        return self.rpcbind.ready()

    def rpcinfoOutput(self, *args: str) -> Deferred[tuple[bytes, bytes, int]]:
        """
        Run C{rpcinfo} with C{args}.
        """
        return self.rpcbind.run(*args)

    @inlineCallbacks
    def listed(self) -> Generator[Deferred[Any], Any, Mappings]:
        """
        The mappings of L{PROGRAM} that C{rpcinfo -p 127.0.0.1} shows.
        """
        out, err, status = yield self.rpcinfoOutput("-p", "127.0.0.1")
        self.assertEqual(status, 0, err)
        return mappings(out, PROGRAM)

    @inlineCallbacks
    def test_registerAndUnregister(self) -> Generated:
        """
        Every version appears in C{rpcinfo -p} after registration, owned by
        the superuser (the calls come from a reserved port), and
        disappears after deregistration.
        """
        results = yield register(reactor, PROGRAM, range(1, 3), "tcp", PORT)
        self.assertEqual(results, [(1, True), (2, True)])
        listed = yield self.listed()
        self.assertEqual(listed, [(1, "tcp", PORT), (2, "tcp", PORT)])
        out, _, _ = yield self.rpcinfoOutput("127.0.0.1")
        owners = {line.split()[-1] for line in out.decode().splitlines() if str(PROGRAM) in line}
        self.assertEqual(owners, {"superuser"})

        results = yield unregister(reactor, PROGRAM, range(1, 3))
        self.assertEqual(results, [(1, True), (2, True)])
        listed = yield self.listed()
        self.assertEqual(listed, [])

    @inlineCallbacks
    def test_versionTaken(self) -> Generated:
        """
        A version already mapped to another port is refused; the others
        are registered, and the failure gives xinetd's message.
        """
        results = yield register(reactor, PROGRAM, [1], "udp", PORT + 1)
        self.assertEqual(results, [(1, True)])
        results = yield register(reactor, PROGRAM, range(1, 3), "udp", PORT)
        self.assertEqual(results, [(1, False), (2, True)])
        self.assertEqual(
            [pmapSetFailed("mine", PROGRAM, version) for version, ok in results if not ok],
            [f"pmap_set failed. service=mine program={PROGRAM} version=1"],
        )
        listed = yield self.listed()
        self.assertEqual(listed, [(1, "udp", PORT + 1), (2, "udp", PORT)])
        yield unregister(reactor, PROGRAM, range(1, 3))
        listed = yield self.listed()
        self.assertEqual(listed, [])
