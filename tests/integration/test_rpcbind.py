# -*- test-case-name: tests.integration.test_rpcbind -*-
"""
L{txinetd.rpc} against a real rpcbind, checked with C{rpcinfo}.

Needs the Debian package rpcbind (C{rpcbind} and C{rpcinfo}; the CI script
installs it), root (rpcbind binds port 111) and util-linux's C{unshare}
with the right to make a mount namespace: rpcbind runs in the foreground in
a namespace of its own with a private /run, so its socket, lock and state
files never touch the machine's.  The tests are skipped when any of these
is missing, or when something already uses port 111.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
from collections.abc import Generator
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SkipTest, TestCase

from txinetd.rpc import pmapSetFailed, register, unregister

from .support import CollectingProcess, reactor

Generated = Generator[Deferred[Any], Any, None]
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


def portInUse() -> bool:
    """
    Whether something already listens on TCP or UDP port 111.
    """
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", 111))
            except OSError:
                return True
    return False


def mappings(listing: bytes, program: int) -> list[tuple[int, str, int]]:
    """
    The (version, protocol, port) rows of C{rpcinfo -p} for a program.
    """
    rows = []
    for line in listing.decode().splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0] == str(program):
            rows.append((int(fields[1]), fields[2], int(fields[3])))
    return sorted(rows)


class RpcbindTests(TestCase):
    """
    Registration and deregistration seen by a real rpcbind.
    """

    timeout = 30

    def setUp(self) -> Deferred[None]:  # type: ignore[override]
        if os.geteuid() != 0:
            raise SkipTest("rpcbind binds port 111: needs root")
        rpcbind = command("rpcbind", "rpcbind")
        self.rpcinfo = command("rpcinfo", "rpcbind")
        unshare = command("unshare", "util-linux")
        if portInUse():
            raise SkipTest("port 111 is in use: an rpcbind or portmap already runs here")
        self.rpcbind = CollectingProcess()
        environment = {"PATH": f"{os.path.dirname(rpcbind)}:{SBIN}"}
        process = reactor.spawnProcess(
            self.rpcbind,
            unshare,
            [unshare, "--mount", "--propagation", "private", "sh", "-c", START],
            env=environment,
        )
        self.addCleanup(self.stop, process)
        return self.ready()

    def stop(self, process: Any) -> Deferred[None]:
        if not self.rpcbind.ended.called:
            process.signalProcess(signal.SIGTERM)
        return self.rpcbind.ended

    def rpcinfoOutput(self, *args: str) -> Deferred[tuple[bytes, bytes, int]]:
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
        Wait (at most 5 s) until rpcbind answers C{rpcinfo -p}.
        """
        for _ in range(50):
            if self.rpcbind.ended.called:
                raise SkipTest(f"rpcbind did not start: {self.rpcbind.output.decode()!r}")
            _, _, status = yield self.rpcinfoOutput("-p", "127.0.0.1")
            if status == 0:
                return
            yield deferLater(reactor, 0.1, lambda: None)
        self.fail("rpcbind did not answer within 5 s")

    @inlineCallbacks
    def listed(self) -> Generator[Deferred[Any], Any, list[tuple[int, str, int]]]:
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
