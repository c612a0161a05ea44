# -*- test-case-name: tests.integration.test_multiplex -*-
"""
tcpmux, the introspection services and RPC services end to end: the service
tree on the real reactor with real clients on loopback and the exact lines of
a FILE service log, and a real twistd registered with a real rpcbind.

The tcpmux targets run as C{nobody} and the RPC service as C{root}: those
tests need root.  The RPC tests need what L{test_rpcbind} needs (the Debian
package rpcbind, util-linux's C{unshare}, root) and are skipped the same way
without it.  rpcbind runs in the test's own network namespace and a mount
namespace of its own, as there; the twistd the test starts reaches it over
UDP on that network namespace's loopback.
"""

from __future__ import annotations

import os
import pwd
import re
import signal
from collections.abc import Generator
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.error import ProcessTerminated
from twisted.trial.unittest import TestCase

from txinetd.serve.rpc import register, unregister

from . import test_rpcbind
from .support import (
    collaborators,
    hostsOptions,
    internalService,
    reactor,
    tcpExchange,
    withTimeout,
    writeConfig,
)
from .test_access_limits import Client, Scenario, StreamTarget
from .test_twistd import ROOT, TWISTD, twistd
from .test_twistd import Daemon as TwistdProcess

Generated = Generator[Deferred[Any], Any, None]

GO = b"+Go\r\n\x00"
NOT_FOUND = b"-Service name not found\r\n\x00"

#: What the external targets look like in the service log: a real pid.
EXTERNAL = StreamTarget("cat", "", r"[1-9]\d*")


def tcpmuxConfig(s: Scenario) -> str:
    """
    The tcpmux service, open to every client, and two targets run as
    C{nobody}: C{catplus} (TCPMUXPLUS, /bin/cat) and C{plain} (TCPMUX,
    answers C{+plain} CR LF itself, only for 127.0.0.2).
    """
    target = " protocol = tcp\n socket_type = stream\n wait = no\n user = nobody\n" + s.logging()
    return (
        "service tcpmux\n{\n type = INTERNAL UNLISTED\n socket_type = stream\n wait = no\n"
        f" port = 0\n{s.logging()}}}\n"
        f"service catplus\n{{\n type = TCPMUXPLUS UNLISTED\n server = /bin/cat\n{target}}}\n"
        "service plain\n{\n type = TCPMUX UNLISTED\n server = /usr/bin/printf\n"
        f" server_args = +plain\\r\\n\n only_from = 127.0.0.2\n{target}}}\n"
    )


def startedPid(s: Scenario, serviceId: str) -> int:
    """
    The pid in the service log's START line of C{serviceId}.
    """
    pattern = re.compile(rf"START: {re.escape(serviceId)} pid=(\d+) from=.*")
    for entry in s.serviceLog():
        match = pattern.fullmatch(entry)
        if match is not None:
            return int(match[1])
    raise AssertionError(f"no START for {serviceId}: {s.serviceLog()}")


def processIdentity(pid: int) -> tuple[str, int]:
    """
    The executable and the real user id of a running process.
    """
    with open(f"/proc/{pid}/status") as status:
        uids = next(line for line in status if line.startswith("Uid:"))
    return os.path.basename(os.readlink(f"/proc/{pid}/exe")), int(uids.split()[1])


class TcpmuxTests(TestCase):
    """
    RFC 1078 through the tcpmux service: the replies byte for byte, the
    target run with its own user and access rules, and the lines of both.
    """

    skip = None if os.geteuid() == 0 else "the tcpmux targets run as user nobody"

    def scenario(self) -> Scenario:
        s = Scenario(self, EXTERNAL, collaborators())
        s.start(tcpmuxConfig(s))
        return s

    @inlineCallbacks
    def test_plusKeepsBytesAfterTheLine(self) -> Generated:
        """
        A TCPMUXPLUS target: the client gets C{+Go} CR LF NUL, then the
        target (/bin/cat as nobody, under its real pid) echoes the bytes
        that came in the same segment as the name line.  Both the tcpmux
        session and the target log START and EXIT.
        """
        s = self.scenario()
        client: Client = yield s.connect("tcpmux", send=b"CatPlus\r\nafter the line\n")
        received = yield client.receivedAtLeast(len(GO + b"after the line\n"))
        self.assertEqual(received, GO + b"after the line\n")
        yield s.waitForEntry("START: catplus")
        pid = startedPid(s, "catplus")
        self.assertEqual(processIdentity(pid), ("cat", pwd.getpwnam("nobody").pw_uid))
        assert client.transport is not None
        client.transport.loseWriteConnection()  # type: ignore[attr-defined]
        yield client.whenEnded()
        yield s.waitForEntry("EXIT: catplus")
        yield s.settled()
        s.assertServiceLog(
            [
                "START: tcpmux pid=0 from=127.0.0.1",
                "EXIT: tcpmux status=0 pid=0",
                f"START: catplus pid={pid} from=127.0.0.1",
                f"EXIT: catplus status=0 pid={pid}",
            ]
        )

    @inlineCallbacks
    def test_plainTarget(self) -> Generated:
        """
        A plain TCPMUX target gets no C{+Go}: what the client reads is what
        the server itself writes.
        """
        s = self.scenario()
        received = yield s.exchange("tcpmux", b"plain\r\n", source="127.0.0.2")
        self.assertEqual(received, b"+plain\r\n")
        yield s.waitForEntry("EXIT: plain")
        pid = startedPid(s, "plain")
        s.assertServiceLog(
            [
                "START: tcpmux pid=0 from=127.0.0.2",
                "EXIT: tcpmux status=0 pid=0",
                f"START: plain pid={pid} from=127.0.0.2",
                f"EXIT: plain status=0 pid={pid}",
            ]
        )

    @inlineCallbacks
    def test_targetOnlyFrom(self) -> Generated:
        """
        The target's own C{only_from} applies: a client the tcpmux service
        admits but the target does not gets nothing and a closed
        connection, and the FAIL line names the target.
        """
        s = self.scenario()
        received = yield s.exchange("tcpmux", b"plain\r\n", source="127.0.0.1")
        self.assertEqual(received, b"")
        s.assertServiceLog(
            [
                "START: tcpmux pid=0 from=127.0.0.1",
                "FAIL: plain address from=127.0.0.1",
                "EXIT: tcpmux status=0 pid=0",
            ]
        )

    @inlineCallbacks
    def test_plusTargetRefusedWithoutGo(self) -> Generated:
        """
        A TCPMUXPLUS target that refuses the client (its C{per_source} is
        reached, or its C{only_from}) sends no C{+Go}: the client gets its
        C{banner_fail} only, as from xinetd.  (Before, C{+Go} came first.)
        """
        s = Scenario(self, EXTERNAL, collaborators())
        farewell = s.file("farewell", b"-go away\r\n")
        s.start(
            tcpmuxConfig(s).replace(
                " server = /bin/cat\n",
                f" server = /bin/cat\n per_source = 0\n banner_fail = {farewell}\n",
            )
        )
        received = yield s.exchange("tcpmux", b"catplus\r\n")
        self.assertEqual(received, b"-go away\r\n")
        s.assertServiceLog(
            [
                "START: tcpmux pid=0 from=127.0.0.1",
                "FAIL: catplus per_source_limit from=127.0.0.1",
                "EXIT: tcpmux status=0 pid=0",
            ]
        )

    @inlineCallbacks
    def test_unknownName(self) -> Generated:
        """
        An unknown name gets exactly the error line and NUL, then the
        connection closes; bytes the client sent after its line do not turn
        the close into a reset that would lose the reply.
        """
        s = self.scenario()
        received = yield s.exchange("tcpmux", b"nosuch\r\nmore bytes")
        self.assertEqual(received, NOT_FOUND)
        s.assertServiceLog(["START: tcpmux pid=0 from=127.0.0.1", "EXIT: tcpmux status=0 pid=0"])


def introspectionConfig(s: Scenario) -> str:
    """
    discard, then C{services} and C{xadmin} for 127.0.0.1 only.
    """
    onlyLocal = " only_from = 127.0.0.1\n" + s.logging()
    return (
        internalService("discard", "stream", extra=s.logging())
        + internalService("services", "stream", extra=onlyLocal)
        + internalService("xadmin", "stream", extra=onlyLocal)
    )


class IntrospectionTests(TestCase):
    """
    C{xadmin} and C{services} over loopback.
    """

    def scenario(self) -> Scenario:
        s = Scenario(self, EXTERNAL, collaborators())
        s.start(introspectionConfig(s))
        return s

    def serverEntry(self, serviceId: str, peer: str) -> list[str]:
        """
        The lines of C{show run} for an in-process session; its start time
        is replaced by C{T}.
        """
        return [
            f"{serviceId} server",
            "pid = 0",
            "start_time = T",
            "Connection info:",
            f"\tservice = {serviceId}",
            f"\tremote_address = {peer}",
        ]

    @inlineCallbacks
    def test_xadmin(self) -> Generated:
        """
        C{show run} lists a held discard session (and the xadmin session
        itself), C{show avail} every available service with its port, and
        C{bye} ends the session with C{bye bye}.
        """
        s = self.scenario()
        yield s.connect("discard-stream", source="127.0.0.2")
        yield s.settled(1)
        client: Client = yield s.connect("xadmin-stream", send=b"show run\nshow avail\nbye\n")
        transcript: bytes = yield client.whenEnded()
        before, run, avail, farewell = transcript.decode().split("> ")
        self.assertEqual((before, farewell), ("", "bye bye\n"))
        self.assertEqual(
            re.sub(r"start_time = .+", "start_time = T", run).splitlines(),
            [
                "Running servers:",
                *self.serverEntry("discard-stream", "127.0.0.2"),
                *self.serverEntry("xadmin-stream", "127.0.0.1"),
            ],
        )
        ids = ["discard-stream", "services-stream", "xadmin-stream"]
        addresses = [s.service(serviceId).address for serviceId in ids]
        self.assertEqual(
            [line.split() for line in avail.splitlines()],
            [["Available", "services:"], ["service", "proto", "port", "address"]]
            + [
                [serviceId, "tcp", str(address[1]), address[0]]
                for serviceId, address in zip(ids, addresses, strict=True)
                if address is not None
            ],
        )
        yield s.waitForEntry("EXIT: xadmin-stream")
        s.assertServiceLog(
            [
                "START: discard-stream pid=0 from=127.0.0.2",
                "START: xadmin-stream pid=0 from=127.0.0.1",
                "EXIT: xadmin-stream status=0 pid=0",
            ]
        )

    @inlineCallbacks
    def test_xadminRefused(self) -> Generated:
        """
        From outside its C{only_from}, xadmin writes nothing, closes, and
        logs the FAIL line.
        """
        s = self.scenario()
        received = yield s.exchange("xadmin-stream", source="127.0.0.2")
        self.assertEqual(received, b"")
        s.assertServiceLog(["FAIL: xadmin-stream address from=127.0.0.2"])

    @inlineCallbacks
    def test_services(self) -> Generated:
        """
        C{services} sends C{<name> <protocol> <port>} per available service.
        """
        s = self.scenario()
        received = yield s.exchange("services-stream")
        self.assertEqual(
            received.decode(),
            "".join(
                f"{name} tcp {s.port(name + '-stream')}\n"
                for name in ("discard", "services", "xadmin")
            ),
        )

    @inlineCallbacks
    def test_xadminNeedsOwnOnlyFrom(self) -> Generated:
        """
        twistd refuses a configuration whose xadmin has no C{only_from} of
        its own (one in the defaults does not count), with the message and
        the entry's line.
        """
        path = writeConfig(
            "defaults\n{\n only_from = 127.0.0.1\n}\n" + internalService("xadmin", "stream")
        )
        out, err, code = yield twistd("-n", "xinetd", "-f", path, "--check")
        self.assertEqual(code, 1)
        self.assertNotIn(b"Traceback", out + err)
        self.assertIn(
            f"{path}:5: error: Service xadmin shows the daemon's state and needs an only_from "
            "of its own - DISABLING",
            out.decode(),
        )


RPC_PROGRAM = 300444
RPC_CONFIG = f"""\
service rpccat
{{
 type = RPC UNLISTED
 rpc_number = {RPC_PROGRAM}
 rpc_version = 1-2
 protocol = tcp
 socket_type = stream
 wait = no
 user = root
 server = /bin/cat
}}
"""


class RpcServiceTests(TestCase):
    """
    An RPC service of a real twistd, seen by a real rpcbind, both in the
    test's network namespace.
    """

    timeout = 40

    @inlineCallbacks
    def startDaemon(self, config: str) -> Generated:
        """
        A real twistd on C{config} (a file it reads again on SIGHUP).
        """
        daemon = TwistdProcess()
        self.process = reactor.spawnProcess(
            daemon,
            TWISTD,
            [TWISTD, "-n", "--pidfile=", "xinetd", "-f", config, *hostsOptions()],
            env=dict(os.environ),
            path=ROOT,
        )

        def kill() -> Deferred[BaseException]:
            if not daemon.ended.called:
                self.process.signalProcess(signal.SIGKILL)
            return daemon.ended

        self.addCleanup(kill)
        yield withTimeout(daemon.ready, 20)
        self.daemon = daemon

    @inlineCallbacks
    def test_versionsChangedByReload(self) -> Generated:
        """
        A reload that changes an RPC service's versions registers the new
        ones and takes the old ones off, as xinetd; at the stop, the new
        ones go too.
        """
        rpcbind = test_rpcbind.Rpcbind(self)
        yield rpcbind.ready()
        config = writeConfig(RPC_CONFIG)
        yield self.startDaemon(config)
        listed = yield rpcbind.mappingsOnceSettled(RPC_PROGRAM, bool)
        port = listed[0][2] if listed else 0
        self.assertEqual(listed, [(1, "tcp", port), (2, "tcp", port)])
        with open(config, "w") as f:
            f.write(RPC_CONFIG.replace("rpc_version = 1-2", "rpc_version = 3-4"))
        self.process.signalProcess(signal.SIGHUP)
        moved = [(3, "tcp", port), (4, "tcp", port)]
        listed = yield rpcbind.mappingsOnceSettled(RPC_PROGRAM, lambda found: found == moved)
        self.assertEqual(listed, moved)
        self.process.signalProcess(signal.SIGTERM)
        yield withTimeout(self.daemon.ended, 20)
        listed = yield rpcbind.mappingsOnceSettled(RPC_PROGRAM, lambda found: not found)
        self.assertEqual(listed, [])

    @inlineCallbacks
    def test_versionsOfAnother(self) -> Generated:
        """
        A version another server holds is not taken, and is left to it:
        when every version fails, the service is deactivated without
        taking the other server's mapping off.
        """
        rpcbind = test_rpcbind.Rpcbind(self)
        yield rpcbind.ready()
        results = yield register(reactor, RPC_PROGRAM, [1], "tcp", test_rpcbind.PORT)
        self.assertEqual(results, [(1, True)])
        config = writeConfig(RPC_CONFIG.replace("rpc_version = 1-2", "rpc_version = 1"))
        yield self.startDaemon(config)
        yield withTimeout(self.daemon.waitFor(b"Service rpccat failed to start"), 20)
        self.process.signalProcess(signal.SIGTERM)
        yield withTimeout(self.daemon.ended, 20)
        listed = yield rpcbind.mappingsOnceSettled(RPC_PROGRAM, lambda found: True)
        self.assertEqual(listed, [(1, "tcp", test_rpcbind.PORT)])
        yield unregister(reactor, RPC_PROGRAM, [1])

    @inlineCallbacks
    def test_registeredWhileRunning(self) -> Generated:
        """
        Both versions are mapped to the service's port while twistd runs; a
        client of that port reaches /bin/cat; once SIGTERM has stopped
        twistd the mappings are gone.
        """
        rpcbind = test_rpcbind.Rpcbind(self)
        yield rpcbind.ready()
        before = yield rpcbind.mappingsOnceSettled(RPC_PROGRAM, lambda listed: True)
        self.assertEqual(before, [])
        daemon = TwistdProcess()
        process = reactor.spawnProcess(
            daemon,
            TWISTD,
            [TWISTD, "-n", "--pidfile=", "xinetd", "-f", writeConfig(RPC_CONFIG), *hostsOptions()],
            env=dict(os.environ),
            path=ROOT,
        )

        def kill() -> Deferred[BaseException]:
            if not daemon.ended.called:
                process.signalProcess(signal.SIGKILL)
            return daemon.ended

        self.addCleanup(kill)
        yield withTimeout(daemon.ready, 20)
        listed = yield rpcbind.mappingsOnceSettled(RPC_PROGRAM, bool)
        port = listed[0][2] if listed else 0
        self.assertEqual(listed, [(1, "tcp", port), (2, "tcp", port)])
        echoed = yield tcpExchange("127.0.0.1", port, b"rpc client\n")
        self.assertEqual(echoed, b"rpc client\n")

        process.signalProcess(signal.SIGTERM)
        ended = yield withTimeout(daemon.ended, 20)
        self.assertIsInstance(ended, ProcessTerminated)
        self.assertNotIn(b"pmap_set failed", daemon.output)
        listed = yield rpcbind.mappingsOnceSettled(RPC_PROGRAM, lambda listed: not listed)
        self.assertEqual(listed, [])
