"""
txinetd behind a real HAProxy that sends the PROXY protocol (C{send-proxy}
and C{send-proxy-v2}), clients from 127.0.0.2 and 127.0.0.3 through it:
the access rules, per_source, the log lines and the server's environment
name the real clients; direct connections, garbage and slow headers are
refused; TLS behind the balancer, with a client certificate; a redirect
that sends a header to a Twisted C{haproxy:} endpoint; and the
C{connection_env} variables, checked against the real tcpserver.

Needs the Debian packages haproxy and ucspi-tcp (the tests are skipped
without them).  HAProxy runs in the foreground with a configuration and
pid file of its own, on loopback, without stats.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import time
from collections.abc import Generator
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import serverFromString
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.certificates import Authority, _name

from .support import (
    CollectingProcess,
    freePorts,
    hasIPv6,
    pollUntil,
    reactor,
    requireOwnNetwork,
    tcpExchange,
    tcpExchangeFrom,
    withTimeout,
)
from .test_logging import TxinetdRun, needCommand

HOST = "127.0.0.1"
CLIENTS = ("127.0.0.2", "127.0.0.3")

HAPROXY_CONF = """\
global
    pidfile {directory}/haproxy.pid
    maxconn 100

defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
"""

HAPROXY_ROUTE = """
listen {name}
    bind 127.0.0.1:{port}
    server only 127.0.0.1:{target} {sendProxy}
"""

DEFAULTS = """\
defaults
{{
\tlog_type = FILE {log}
\tlog_on_success = PID HOST EXIT
\tlog_on_failure = HOST
}}
"""


def service(name: str, port: int, *lines: str, server: str = "/usr/bin/env") -> str:
    """
    An UNLISTED stream service on 127.0.0.1 with more attribute lines.
    """
    body = "".join(f"\t{line}\n" for line in lines)
    return (
        f"service {name}\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n"
        f"\tuser = root\n\tserver = {server}\n\tport = {port}\n\tbind = {HOST}\n{body}}}\n"
    )


def environment(output: bytes) -> dict[str, str]:
    """
    The variables of C{env}'s output.
    """
    pairs = (line.split("=", 1) for line in output.decode().splitlines() if "=" in line)
    return dict(pairs)


class HAProxyRun:
    """
    One HAProxy process in the foreground (C{-db}), stopped when the test
    ends.
    """

    def __init__(self, testCase: TestCase, directory: str) -> None:
        self.command = needCommand("haproxy", "haproxy")
        self.testCase = testCase
        self.directory = directory
        self.process: Any = None
        self.output = CollectingProcess()

    def start(self, routes: list[tuple[str, int, int, str]]) -> Deferred[None]:
        """
        Listen on each (name, port, target port, C{send-proxy} option).

        @return: fires once every port accepts connections.
        """
        text = HAPROXY_CONF.format(directory=self.directory)
        for name, port, target, sendProxy in routes:
            text += HAPROXY_ROUTE.format(name=name, port=port, target=target, sendProxy=sendProxy)
        path = os.path.join(self.directory, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(text)
        self.process = reactor.spawnProcess(
            self.output, self.command, [self.command, "-db", "-f", path], env={}
        )
        self.testCase.addCleanup(self.stop)

        def listening() -> bool | None:
            for _, port, _, _ in routes:
                with socket.socket() as probe:
                    if probe.connect_ex((HOST, port)) != 0:
                        return None
            return True

        polled: Deferred[bool] = pollUntil(
            listening, lambda: f"haproxy listening: {self.output.output!r}"
        )
        return polled.addCallback(lambda _: None)

    def stop(self) -> Deferred[Any]:
        if self.process.pid is not None:
            self.process.signalProcess(signal.SIGTERM)
        return withTimeout(self.output.ended, 30)


class _Recorder(Protocol):
    """
    Once the client speaks (after the header), sends back the peer the
    transport says, and closes.
    """

    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        peer = self.transport.getPeer()
        self.transport.write(f"{peer.host} {peer.port}\n".encode())  # type: ignore[attr-defined]
        self.transport.loseConnection()


class ProxyCase(TestCase):
    """
    A txinetd run and a HAProxy in front of it.
    """

    def setUp(self) -> None:
        self.txinetd = TxinetdRun(self)
        self.haproxy = HAProxyRun(self, self.txinetd.directory)

    def defaults(self) -> str:
        return DEFAULTS.format(log=self.txinetd.serviceLog)


class BalancedTests(ProxyCase):
    """
    C{send-proxy} and C{send-proxy-v2}: the header's client is the client.
    """

    @inlineCallbacks
    def test_realClients(self) -> Generator[Deferred[Any], Any, None]:
        """
        Through HAProxy (v1 and v2), 127.0.0.2 is served and its server's
        REMOTE_HOST, C{connection_env} variables and START line name it;
        127.0.0.3 is refused by C{only_from} (FAIL names it); a direct
        client, even one C{only_from} allows, is refused with C{FAIL proxy}.
        """
        v1, v2, h1, h2 = freePorts(4)
        lines = (
            "proxy_from = 127.0.0.1",
            "only_from = 127.0.0.2",
            "connection_env = ucspi systemd",
        )
        yield self.txinetd.start(
            self.defaults()
            + service("one", v1, "proxy_protocol = v1", *lines)
            + service("two", v2, "proxy_protocol = v2", *lines)
        )
        yield self.haproxy.start([("one", h1, v1, "send-proxy"), ("two", h2, v2, "send-proxy-v2")])
        for name, front in (("one", h1), ("two", h2)):
            # A client says something before it half-closes: HAProxy drops a
            # client that closes before its server connection is made.
            output = yield tcpExchangeFrom(CLIENTS[0], HOST, front, b"hello\n")
            env = environment(output)
            port = env["REMOTE_PORT"]
            self.assertEqual(
                {key: env.get(key) for key in EXPECTED_IPV4},
                {
                    **EXPECTED_IPV4,
                    "REMOTE_HOST": CLIENTS[0],
                    "TCPREMOTEIP": CLIENTS[0],
                    "REMOTE_ADDR": CLIENTS[0],
                    "TCPREMOTEPORT": port,
                    "REMOTE_PORT": port,
                    "TCPLOCALPORT": str(front),
                },
            )
            # The balancer's own port is never the client's.
            self.assertNotIn(port, (str(front),))
            refused = yield tcpExchangeFrom(CLIENTS[1], HOST, front, b"hello\n")
            self.assertEqual(refused, b"")
            yield self.txinetd.waitForLine(f"FAIL: {name} address from={CLIENTS[1]}")
            direct = yield tcpExchangeFrom(CLIENTS[0], HOST, v1 if name == "one" else v2)
            self.assertEqual(direct, b"")
            yield self.txinetd.waitForLine(f"FAIL: {name} proxy from={CLIENTS[0]}")
        starts = [line for line in self.txinetd.messages() if line.startswith("START")]
        self.assertEqual(
            [line.split()[1] + " " + line.split()[-1] for line in starts],
            [f"one from={CLIENTS[0]}", f"two from={CLIENTS[0]}"],
        )

    @inlineCallbacks
    def test_perSource(self) -> Generator[Deferred[Any], Any, None]:
        """
        C{per_source = 1} counts the real clients: while 127.0.0.2 holds a
        server, its second connection through the balancer is refused
        (C{per_source_limit}, naming it) and 127.0.0.3's is served.
        """
        port, front = freePorts(2)
        yield self.txinetd.start(
            self.defaults()
            + service(
                "held",
                port,
                "proxy_protocol = v2",
                "proxy_from = 127.0.0.1",
                "per_source = 1",
                server="/bin/cat",
            )
        )
        yield self.haproxy.start([("held", front, port, "send-proxy-v2")])
        holder = socket.create_connection((HOST, front), source_address=(CLIENTS[0], 0))
        self.addCleanup(holder.close)
        yield self.txinetd.waitForLine(f"from={CLIENTS[0]}")
        refused = yield tcpExchangeFrom(CLIENTS[0], HOST, front, b"again\n")
        self.assertEqual(refused, b"")
        yield self.txinetd.waitForLine(f"FAIL: held per_source_limit from={CLIENTS[0]}")
        served = yield tcpExchangeFrom(CLIENTS[1], HOST, front, b"other\n")
        self.assertEqual(served, b"other\n")
        holder.sendall(b"first\n")
        echoed = yield deferToThread(holder.recv, 100)
        self.assertEqual(echoed, b"first\n")

    @inlineCallbacks
    def test_garbageAndSlowHeaders(self) -> Generator[Deferred[Any], Any, None]:
        """
        From the trusted address itself: garbage instead of a header is
        refused at once; no header at all is refused after
        C{proxy_timeout}, the client having sent nothing; a header of the
        wrong version is refused.  Each is a C{FAIL proxy}, and the program
        log says why without quoting the client's bytes.
        """
        (port,) = freePorts(1)
        yield self.txinetd.start(
            self.defaults()
            + service(
                "strict",
                port,
                "proxy_protocol = v2",
                "proxy_from = 127.0.0.1",
                "proxy_timeout = 1",
            )
        )
        garbage = yield tcpExchangeFrom(HOST, HOST, port, b"GET /\x1b[31m HTTP/1.0\r\n\r\n")
        self.assertEqual(garbage, b"")
        version1 = yield tcpExchangeFrom(HOST, HOST, port, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")
        self.assertEqual(version1, b"")
        silent = socket.create_connection((HOST, port))
        self.addCleanup(silent.close)
        started = time.monotonic()
        ended = yield deferToThread(silent.recv, 100)
        self.assertEqual(ended, b"")
        # Closed by txinetd, well before the test's own timeout.
        self.assertLess(time.monotonic() - started, 20)
        lines = yield pollUntil(
            lambda: (
                [line for line in self.txinetd.messages() if "FAIL" in line]
                if len([line for line in self.txinetd.messages() if "FAIL" in line]) >= 3
                else None
            ),
            lambda: f"three FAIL lines in {self.txinetd.lines()}",
        )
        self.assertEqual(lines, [f"FAIL: strict proxy from={HOST}"] * 3)
        output = bytes(self.txinetd.daemon.output)
        self.assertIn(b"PROXY header from 127.0.0.1 refused: no PROXY header", output)
        self.assertIn(b"a version 1 header, which is not accepted", output)
        self.assertIn(b"no whole header in time", output)
        self.assertNotIn(b"\x1b", output)
        self.assertNotIn(b"GET", output)


class TLSBehindBalancerTests(ProxyCase):
    """
    A TLS service behind HAProxy's C{send-proxy-v2}: the header first, then
    the handshake with the client itself.
    """

    @inlineCallbacks
    def test_clientCertificate(self) -> Generator[Deferred[Any], Any, None]:
        """
        127.0.0.2 presents a client certificate through the balancer: its
        server sees REMOTE_HOST=127.0.0.2 and SSL_CLIENT_DN, and the USERID
        line names the certificate and 127.0.0.2.
        """
        directory = self.txinetd.directory
        authority = Authority(directory)
        server = authority.issue("server", _name(CN="localhost"), ("localhost", HOST))
        client = authority.issue("alice", _name(O="Example", CN="alice"), client=True)
        port, front = freePorts(2)
        yield self.txinetd.start(
            DEFAULTS.replace("PID HOST EXIT", "PID HOST EXIT USERID").format(
                log=self.txinetd.serviceLog
            )
            + service(
                "secure",
                port,
                "proxy_protocol = v2",
                "proxy_from = 127.0.0.1",
                f"tls_certificate = {server.certificate}",
                f"tls_key = {server.key}",
                f"tls_client_ca = {authority.path}",
                "tls_client_cert = required",
                "connection_env = ucspi",
            )
        )
        yield self.haproxy.start([("secure", front, port, "send-proxy-v2")])

        def exchange() -> bytes:
            context = ssl.create_default_context(cafile=authority.path)
            context.load_cert_chain(client.certificate, client.key)
            raw = socket.create_connection((HOST, front), source_address=(CLIENTS[0], 0))
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                received = b""
                while chunk := tls.recv(4096):
                    received += chunk
                return received

        output = yield deferToThread(exchange)
        env = environment(output)
        self.assertEqual(env["REMOTE_HOST"], CLIENTS[0])
        self.assertEqual(env["SSL_CLIENT_DN"], "O=Example, CN=alice")
        self.assertEqual(env["TCPREMOTEINFO"], "O=Example, CN=alice")
        yield self.txinetd.waitForLine("USERID: secure X509 : O=Example, CN=alice")


class RedirectProxyTests(ProxyCase):
    """
    C{redirect_proxy}: a redirect target that parses the header sees the
    client.
    """

    @inlineCallbacks
    def test_targetSeesClient(self) -> Generator[Deferred[Any], Any, None]:
        """
        A Twisted C{haproxy:} endpoint behind C{redirect_proxy = v2} sees
        127.0.0.2 whether it connects directly or through HAProxy (the
        header in, then the header out); behind C{v1} as well.
        """
        factory = Factory.forProtocol(_Recorder)
        target = yield serverFromString(reactor, f"haproxy:tcp:0:interface={HOST}").listen(factory)
        self.addCleanup(target.stopListening)
        targetPort = target.getHost().port
        direct, behind, version1, front = freePorts(4)
        yield self.txinetd.start(
            self.defaults()
            + service("out", direct, f"redirect = {HOST} {targetPort}", "redirect_proxy = v2")
            + service(
                "through",
                behind,
                f"redirect = {HOST} {targetPort}",
                "redirect_proxy = v2",
                "proxy_protocol = v1 v2",
                "proxy_from = 127.0.0.1",
            )
            + service("plain", version1, f"redirect = {HOST} {targetPort}", "redirect_proxy = v1")
        )
        yield self.haproxy.start([("through", front, behind, "send-proxy")])
        for port in (direct, front, version1):
            seen = yield tcpExchangeFrom(CLIENTS[0], HOST, port, b"who?\n")
            self.assertEqual(seen.split()[0], CLIENTS[0].encode(), port)


#: What C{connection_env = ucspi systemd} sets for an IPv4 client of
#: 127.0.0.1 (ports filled in by each test), and what it must not set.
EXPECTED_IPV4: dict[str, str | None] = {
    "PROTO": "TCP",
    "TCPREMOTEIP": None,
    "TCPREMOTEPORT": None,
    "TCPLOCALIP": HOST,
    "TCPLOCALPORT": None,
    "TCPREMOTEHOST": None,
    "TCPREMOTEINFO": None,
    "TCPLOCALHOST": None,
    "REMOTE_HOST": None,
    "REMOTE_ADDR": None,
    "REMOTE_PORT": None,
}


class ConnectionEnvTests(ProxyCase):
    """
    C{connection_env = ucspi systemd}, as tcpserver and systemd set them.
    """

    @inlineCallbacks
    def test_asTcpserver(self) -> Generator[Deferred[Any], Any, None]:
        """
        Over IPv4 txinetd's server gets exactly the variables the real
        tcpserver (C{-R -H}: no ident, no name look-up) gives its own, with
        the values of its own connection; and systemd's REMOTE_ADDR and
        REMOTE_PORT.
        """
        tcpserver = needCommand("tcpserver", "ucspi-tcp")
        # tcpserver looks its own address up in the DNS: nowhere to go here.
        requireOwnNetwork()
        ours, theirs = freePorts(2)
        process = CollectingProcess()
        spawned = reactor.spawnProcess(
            process,
            tcpserver,
            [tcpserver, "-R", "-H", HOST, str(theirs), "/usr/bin/env"],
            env={},
        )

        def stop() -> Deferred[None]:
            spawned.signalProcess(signal.SIGTERM)
            return withTimeout(process.ended, 30)

        self.addCleanup(stop)
        yield self.txinetd.start(
            self.defaults() + service("env", ours, "connection_env = ucspi systemd")
        )

        def listening() -> bool | None:
            with socket.socket() as probe:
                return True if probe.connect_ex((HOST, theirs)) == 0 else None

        yield pollUntil(listening, lambda: "tcpserver listening")
        reference = environment((yield tcpExchangeFrom(CLIENTS[0], HOST, theirs)))
        mine = environment((yield tcpExchangeFrom(CLIENTS[0], HOST, ours)))
        self.assertEqual(
            {**reference, "TCPREMOTEPORT": "N", "TCPLOCALPORT": "N"},
            {
                key: ("N" if key.endswith("PORT") else value)
                for key, value in mine.items()
                if key.startswith(("TCP", "PROTO"))
            },
        )
        self.assertEqual(reference["TCPLOCALPORT"], str(theirs))
        self.assertEqual(mine["TCPLOCALPORT"], str(ours))
        self.assertEqual(mine["REMOTE_ADDR"], CLIENTS[0])
        self.assertEqual(mine["REMOTE_PORT"], mine["TCPREMOTEPORT"])
        self.assertEqual(mine["REMOTE_HOST"], CLIENTS[0])

    @inlineCallbacks
    def test_ipv6(self) -> Generator[Deferred[Any], Any, None]:
        """
        Over IPv6, as ucspi-tcp6 sets them: C{PROTO=TCP6}, the compact
        addresses in C{TCP*} and in their C{TCP6*} twins; systemd's
        REMOTE_ADDR is the address too.
        """
        if not hasIPv6():
            self.skipTest("no IPv6 loopback")
        (port,) = freePorts(1)
        yield self.txinetd.start(
            self.defaults()
            + service("env6", port, "connection_env = ucspi systemd").replace(
                f"bind = {HOST}", "bind = ::1"
            )
        )
        output = yield tcpExchange("::1", port)
        env = environment(output)
        remotePort = env["REMOTE_PORT"]
        self.assertEqual(
            {key: value for key, value in env.items() if key.startswith(("TCP", "PROTO"))},
            {
                "PROTO": "TCP6",
                "TCPREMOTEIP": "::1",
                "TCPREMOTEPORT": remotePort,
                "TCPLOCALIP": "::1",
                "TCPLOCALPORT": str(port),
                "TCP6REMOTEIP": "::1",
                "TCP6REMOTEPORT": remotePort,
                "TCP6LOCALIP": "::1",
                "TCP6LOCALPORT": str(port),
            },
        )
        self.assertEqual(env["REMOTE_ADDR"], "::1")
