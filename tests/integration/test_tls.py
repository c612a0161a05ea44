"""
TLS in front of services, served by the real twistd to real TLS clients
(C{openssl s_client} and Twisted's TLS client): a TLS echo, a TLS front for
an external C{/bin/cat}, client certificates handed to the server as
C{SSL_CLIENT_DN}, TLS to a redirect target whose name is checked, the
access rules and limits on TLS services, and certificates reloaded by
SIGHUP without dropping established connections.

Needs the Debian package openssl for the C{s_client} tests (skipped
without it).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import ssl
import struct
from collections.abc import Generator
from dataclasses import replace
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import SSL4ClientEndpoint, TCP4ClientEndpoint
from twisted.internet.error import ConnectError
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import (
    Certificate,
    PrivateCertificate,
    optionsForClientTLS,
)
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, TestCase

from tests.certificates import Authority, Issued
from txinetd.core.endpoint import TLSSettings
from txinetd.daemon.service import ListeningService

from .support import (
    freePorts,
    internalService,
    pollUntil,
    reactor,
    withTimeout,
)
from .test_builtins import startTree
from .test_endpoints import EndpointCase
from .test_twistd import run

#: The start of a TLS server's first record: a handshake record (22) of
#: TLS 1.0-1.3 framing.
SERVER_HELLO = b"\x16\x03"


def clientHello() -> bytes:
    """
    The first bytes of a TLS client: a record holding its ClientHello.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    outgoing = ssl.MemoryBIO()
    client = context.wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()


@inlineCallbacks
def helloFrom(source: str, port: int) -> Generator[Deferred[Any], Any, bytes]:
    """
    Connect from C{source} to a port of 127.0.0.1 and send a ClientHello;
    fire with the first bytes the server sends back, or C{b""} if it
    closes (or resets) the connection without a byte.
    """
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, bindAddress=(source, 0))
    client = _Client()
    try:
        yield withTimeout(endpoint.connect(Factory.forProtocol(lambda: client)))
    except ConnectError:
        return b""
    assert client.transport is not None
    client.transport.write(clientHello())
    received: bytes = yield client.receivedAtLeast(1)
    client.transport.loseConnection()
    return received


def queuedHello(source: str, port: int) -> socket.socket:
    """
    Connect from C{source} to a port of 127.0.0.1 and send a ClientHello at
    once, without waiting for the daemon (which may not have accepted yet).
    """
    client = socket.socket()
    client.settimeout(5)
    try:
        client.bind((source, 0))
        client.connect(("127.0.0.1", port))
        client.sendall(clientHello())
    except BaseException:
        client.close()
        raise
    return client


def firstBytes(client: socket.socket) -> bytes:
    """
    The first bytes C{client} receives, or C{b""} if the connection ends
    (or is reset) without a byte; the client is closed.
    """
    with client:
        try:
            return client.recv(4096)
        except ConnectionResetError:
            return b""


def halfClosingExchange(port: int, request: bytes) -> tuple[bytes, str | None]:
    """
    Connect to a port of 127.0.0.1, send C{request}, shut down the writing
    half at once and read to the end of the stream.

    @return: what was received, and how the stream ended: L{None} for a
        clean end (a FIN), else the error's name (a reset).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=20) as client:
        client.sendall(request)
        client.shutdown(socket.SHUT_WR)
        received = bytearray()
        while True:
            try:
                data = client.recv(65536)
            except OSError as e:
                return bytes(received), type(e).__name__
            if not data:
                return bytes(received), None
            received += data


class _TrailingTarget:
    """
    A TLS server in a thread, for one connection: it reads the request to
    the client's C{close_notify} (an end of the TCP stream without it is an
    error), then sends C{reply} and ends with its own C{close_notify}
    (C{farewell}) or by closing the TCP connection alone.

    @ivar request: what it read, once done.
    """

    def __init__(
        self, issued: Issued, reply: bytes, farewell: bool, version: ssl.TLSVersion
    ) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.maximum_version = version
        self.context.load_cert_chain(issued.certificate, issued.key)
        self.reply = reply
        self.farewell = farewell
        self.request = b""
        self.listening = socket.create_server(("127.0.0.1", 0))
        self.listening.settimeout(30)
        self.port = self.listening.getsockname()[1]

    def serve(self) -> bytes:
        with self.listening, self.listening.accept()[0] as raw:
            raw.settimeout(20)
            with self.context.wrap_socket(raw, server_side=True, suppress_ragged_eofs=False) as tls:
                request = bytearray()
                while data := tls.recv(65536):
                    request += data
                self.request = bytes(request)
                tls.sendall(self.reply)
                if self.farewell:
                    tls.unwrap()
        return self.request


class _Client(Protocol):
    """
    Sends lines, collects what comes back, and notes the server's
    certificate.
    """

    def __init__(self) -> None:
        self.received = bytearray()
        self.done: Deferred[bytes] = Deferred()
        self.waiting: list[tuple[int, Deferred[bytes]]] = []

    def receivedAtLeast(self, count: int) -> Deferred[bytes]:
        d: Deferred[bytes] = Deferred()
        self.waiting.append((count, d))
        self.dataReceived(b"")
        return withTimeout(d)

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        for count, d in list(self.waiting):
            if len(self.received) >= count:
                self.waiting.remove((count, d))
                d.callback(bytes(self.received))

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.done.callback(bytes(self.received))
        for _, d in self.waiting:
            d.callback(bytes(self.received))
        self.waiting = []

    def peerSubject(self) -> str:
        assert self.transport is not None
        certificate = self.transport.getPeerCertificate()  # type: ignore[attr-defined]
        names = certificate.to_cryptography().subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[0].value)


class TLSTestCase(EndpointCase):
    """
    A twistd run per test, with fresh certificates in C{self.directory}.
    """

    def setUp(self) -> None:
        super().setUp()
        self.authority = Authority(self.directory)
        self.server = self.authority.server("server", "localhost", "127.0.0.1")

    def connect(
        self,
        port: int,
        name: str = "localhost",
        client: Issued | None = None,
        source: str | None = None,
    ) -> Deferred[_Client]:
        """
        A Twisted TLS client that trusts the test CA.
        """
        with open(self.authority.path, "rb") as f:
            trust = Certificate.loadPEM(f.read())
        identity = None
        if client is not None:
            with open(client.certificate, "rb") as f, open(client.key, "rb") as k:
                identity = PrivateCertificate.loadPEM(f.read() + k.read())
        options = optionsForClientTLS(name, trust, identity)
        bind = None if source is None else (source, 0)
        endpoint = SSL4ClientEndpoint(reactor, "127.0.0.1", port, options, bindAddress=bind)
        protocol = _Client()
        return withTimeout(endpoint.connect(Factory.forProtocol(lambda: protocol)))

    def entry(self, name: str, port: int, body: str) -> str:
        return (
            f"service {name}\n{{\n type = UNLISTED\n socket_type = stream\n wait = no\n"
            f" port = {port}\n bind = 127.0.0.1\n{body}}}\n"
        )

    def tlsLines(self, issued: Issued | None = None) -> str:
        issued = issued or self.server
        return f" tls_certificate = {issued.certificate}\n tls_key = {issued.key}\n"


def needsOpenssl() -> None:
    if shutil.which("openssl") is None:
        raise SkipTest("openssl is not installed (Debian: openssl)")


class TLSServiceTests(TLSTestCase):
    """
    Built-ins and external servers behind TLS.
    """

    @inlineCallbacks
    def test_echo(self) -> Any:
        """
        The internal echo, listening on an C{ssl:} description, answers a
        Twisted TLS client inside TLS, with the configured certificate.
        """
        (port,) = freePorts(1)
        yield self.start(
            "service echo\n{\n type = INTERNAL UNLISTED\n socket_type = stream\n wait = no\n"
            f" listen = ssl:{port}:interface=127.0.0.1:privateKey={self.server.key}"
            f":certKey={self.server.certificate}\n}}\n"
        )
        client = yield self.connect(port)
        client.transport.write(b"hello over TLS\r\n")
        echoed = yield client.receivedAtLeast(16)
        self.assertEqual(echoed, b"hello over TLS\r\n")
        self.assertEqual(client.peerSubject(), "localhost")
        client.transport.loseConnection()
        lines = yield self.waitForLog("^EXIT: echo")
        self.assertIn("START: echo pid=0 from=127.0.0.1", lines)

    @inlineCallbacks
    def test_daytimeWithOpensslClient(self) -> Any:
        """
        C{openssl s_client} verifies the certificate against the CA and
        gets the daytime line.
        """
        needsOpenssl()
        (port,) = freePorts(1)
        yield self.start(
            "service daytime\n{\n type = INTERNAL UNLISTED\n socket_type = stream\n wait = no\n"
            f" port = {port}\n bind = 127.0.0.1\n{self.tlsLines()}}}\n"
        )
        output = yield run(
            "openssl",
            "s_client",
            "-quiet",
            "-ign_eof",
            "-verify_return_error",
            "-CAfile",
            self.authority.path,
            "-verify_hostname",
            "localhost",
            "-connect",
            f"127.0.0.1:{port}",
            stdin=b"",
        )
        self.assertRegex(output.decode(), r"^\d\d [A-Z]{3} \d{4} \d\d:\d\d:\d\d \w+\r\n$")

    @inlineCallbacks
    def test_chainSent(self) -> Any:
        """
        With C{tls_chain}, the intermediate CA goes to the client, which
        then verifies the certificate against the root alone; without it
        the same client refuses the server.
        """
        needsOpenssl()
        intermediate = Authority(self.directory, "txinetd intermediate", issuer=self.authority)
        issued = intermediate.server("chained", "localhost")
        port, unchained = freePorts(2)
        daytime = (
            "service daytime\n{{\n type = INTERNAL UNLISTED\n id = {id}\n socket_type = stream\n"
            " wait = no\n port = {port}\n bind = 127.0.0.1\n{tls}}}\n"
        )
        yield self.start(
            daytime.format(
                id="chained",
                port=port,
                tls=f"{self.tlsLines(issued)} tls_chain = {intermediate.path}\n",
            )
            + daytime.format(id="unchained", port=unchained, tls=self.tlsLines(issued))
        )
        verify = ["-verify_return_error", "-CAfile", self.authority.path]
        verify += ["-verify_hostname", "localhost", "-showcerts"]
        answers = []
        for number in (port, unchained):
            answer = yield run(
                "openssl",
                "s_client",
                "-ign_eof",
                *verify,
                "-connect",
                f"127.0.0.1:{number}",
                stdin=b"",
            )
            answers.append(answer.decode())
        self.assertIn("1 s:O = txinetd tests, CN = txinetd intermediate", answers[0])
        self.assertIn("Verify return code: 0 (ok)", answers[0])
        self.assertRegex(answers[0], r"\n\d\d [A-Z]{3} \d{4} \d\d:\d\d:\d\d \w+\r\n")
        self.assertNotIn("Verify return code: 0 (ok)", answers[1])

    @inlineCallbacks
    def test_catFront(self) -> Any:
        """
        An external C{/bin/cat} gets the plaintext: what the TLS client
        sends comes back, and the server's EXIT is logged once the client
        closes.
        """
        (port,) = freePorts(1)
        yield self.start(
            self.entry("cat", port, f" user = nobody\n server = /bin/cat\n{self.tlsLines()}")
        )
        client = yield self.connect(port)
        client.transport.write(b"line one\n")
        yield client.receivedAtLeast(9)
        client.transport.write(b"line two\n")
        echoed = yield client.receivedAtLeast(18)
        self.assertEqual(echoed, b"line one\nline two\n")
        client.transport.loseConnection()
        lines = yield self.waitForLog("^EXIT: cat status=0")
        self.assertTrue(any(re.fullmatch(r"START: cat pid=\d+ from=127.0.0.1", x) for x in lines))

    @inlineCallbacks
    def test_plaintextClientRefused(self) -> Any:
        """
        A client that does not speak TLS gets nothing from the server and
        is logged as C{FAIL: id tls}.
        """
        (port,) = freePorts(1)
        yield self.start(
            self.entry("cat", port, f" user = nobody\n server = /bin/cat\n{self.tlsLines()}")
        )
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
        protocol = _Client()
        yield endpoint.connect(Factory.forProtocol(lambda: protocol))
        assert protocol.transport is not None
        protocol.transport.write(b"GET / HTTP/1.0\r\n\r\n")
        received = yield withTimeout(protocol.done)
        self.assertNotIn(b"GET", received)
        lines = yield self.waitForLog("^FAIL: cat tls")
        self.assertFalse([line for line in lines if line.startswith("START")])

    @inlineCallbacks
    def test_resetsDoNotStopService(self) -> Any:
        """
        Clients that reset their connection at once (before txinetd takes
        it over for TLS) leave the service serving, without leaking.
        """
        (port,) = freePorts(1)
        yield self.start(
            self.entry("cat", port, f" user = nobody\n server = /bin/cat\n{self.tlsLines()}")
        )
        pid = self.process.pid
        warmUp = yield self.connect(port)
        warmUp.transport.write(b"warm\n")
        yield warmUp.receivedAtLeast(5)
        warmUp.transport.loseConnection()
        yield self.waitForLog("^EXIT: cat")
        before = len(os.listdir(f"/proc/{pid}/fd"))
        linger = struct.pack("ii", 1, 0)
        for _ in range(30):
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                sock.connect(("127.0.0.1", port))
        client = yield self.connect(port)
        client.transport.write(b"still here\n")
        self.assertEqual((yield client.receivedAtLeast(11)), b"still here\n")
        client.transport.loseConnection()
        yield pollUntil(
            lambda: len([x for x in self.logLines() if x.startswith("EXIT: cat")]) == 2 or None,
            lambda: f"two EXIT lines in {self.logLines()}",
        )
        # Fails with a timeout unless the descriptors come back down.
        yield pollUntil(
            lambda: len(os.listdir(f"/proc/{pid}/fd")) <= before or None,
            lambda: f"{before} descriptors, not {os.listdir(f'/proc/{pid}/fd')}",
        )


class ClientCertificateTests(TLSTestCase):
    """
    C{tls_client_ca}: client certificates checked and passed on.
    """

    @inlineCallbacks
    def startEnv(self, extra: str = "") -> Any:
        (self.port,) = freePorts(1)
        yield self.start(
            self.entry(
                "env",
                self.port,
                f" user = nobody\n server = /usr/bin/env\n{self.tlsLines()}"
                f" tls_client_ca = {self.authority.path}\n{extra}",
            )
        )

    @inlineCallbacks
    def test_subjectInEnvironment(self) -> Any:
        """
        The server sees the client certificate's subject and issuer in
        SSL_CLIENT_DN and SSL_CLIENT_I_DN (read here with C{openssl
        s_client}); the USERID line names the subject.
        """
        needsOpenssl()
        yield self.startEnv()
        alice = self.authority.client("alice", "alice")
        output = yield run(
            "openssl",
            "s_client",
            "-quiet",
            "-ign_eof",
            "-CAfile",
            self.authority.path,
            "-cert",
            alice.certificate,
            "-key",
            alice.key,
            "-connect",
            f"127.0.0.1:{self.port}",
            stdin=b"",
        )
        environment = dict(
            line.split("=", 1) for line in output.decode().splitlines() if "=" in line
        )
        self.assertEqual(environment["SSL_CLIENT_DN"], "C=PL, O=Example\\, Inc., CN=alice")
        self.assertEqual(environment["SSL_CLIENT_I_DN"], "O=txinetd tests, CN=txinetd test CA")
        self.assertEqual(environment["REMOTE_HOST"], "127.0.0.1")
        lines = yield self.waitForLog("^EXIT: env")
        self.assertIn("USERID: env X509 : C=PL, O=Example\\, Inc., CN=alice", lines)

    @inlineCallbacks
    def test_noCertificateRefused(self) -> Any:
        """
        With C{tls_client_cert} required (the default), a client without a
        certificate never reaches the server.
        """
        yield self.startEnv()
        client = yield self.connect(self.port)
        received = yield client.done
        self.assertEqual(received, b"")
        lines = yield self.waitForLog("^FAIL: env tls from=127.0.0.1")
        self.assertFalse([line for line in lines if line.startswith("START")])

    @inlineCallbacks
    def test_foreignCertificateRefused(self) -> Any:
        """
        A client certificate from another CA is refused.
        """
        yield self.startEnv()
        other = Authority(self.directory, "other CA")
        mallory = other.client("mallory", "mallory")
        client = yield self.connect(self.port, client=mallory)
        received = yield client.done
        self.assertEqual(received, b"")
        yield self.waitForLog("^FAIL: env tls from=127.0.0.1")

    @inlineCallbacks
    def test_controlCharactersInSubject(self) -> Any:
        """
        A trusted client certificate whose name holds a NUL, CR, LF and
        ESC: the server gets it in printable form (C{\\XX}), as stunnel
        gives it, and so does the USERID line; no traceback.  (Before, the
        NUL ended in a CRITICAL traceback without a FAIL line, and CR, LF
        and ESC reached the server raw.)
        """
        yield self.startEnv()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example"),
                x509.NameAttribute(NameOID.COMMON_NAME, "ev\x00il\r\nX-Admin: yes\x1b[0m"),
            ]
        )
        evil = self.authority.issue("evil", subject, client=True)
        client = yield self.connect(self.port, client=evil)
        output = yield client.done
        environment = dict(
            line.split("=", 1) for line in output.decode().splitlines() if "=" in line
        )
        shown = "O=Example, CN=ev\\00il\\0D\\0AX-Admin: yes\\1B[0m"
        self.assertEqual(environment["SSL_CLIENT_DN"], shown)
        self.assertNotIn("X-Admin", environment)
        lines = yield self.waitForLog("^EXIT: env")
        self.assertIn(f"USERID: env X509 : {shown}", lines)
        self.assertNotIn(b"Traceback", self.daemon.output)

    @inlineCallbacks
    def test_optionalCertificate(self) -> Any:
        """
        C{tls_client_cert = optional}: a client without a certificate is
        served, with no SSL_CLIENT_DN.
        """
        yield self.startEnv(" tls_client_cert = optional\n")
        client = yield self.connect(self.port)
        output = yield client.done
        self.assertIn(b"REMOTE_HOST=127.0.0.1", output)
        self.assertNotIn(b"SSL_CLIENT_DN", output)


class RedirectTLSTests(TLSTestCase):
    """
    C{redirect_tls}: TLS to the target, whose certificate must carry the
    name.
    """

    @inlineCallbacks
    def startPair(self, name: str, target: Issued | None = None, more: str = "") -> Any:
        """
        A TLS echo whose certificate is C{target} (default: one for
        C{wrong.example}), and a plaintext service redirected to it that
        expects C{name} (with the attribute lines C{more}).
        """
        wrong = target or self.authority.server("wrong", "wrong.example")
        self.backend, self.front = freePorts(2, low=49000, high=49500)
        yield self.start(
            "service echo\n{\n type = INTERNAL UNLISTED\n socket_type = stream\n wait = no\n"
            f" port = {self.backend}\n bind = 127.0.0.1\n{self.tlsLines(wrong)}}}\n"
            + self.entry(
                "front",
                self.front,
                f" user = nobody\n redirect = 127.0.0.1 {self.backend}\n redirect_tls = yes\n"
                f" redirect_tls_name = {name}\n redirect_tls_ca = {self.authority.path}\n" + more,
            )
        )

    def plainClient(self) -> Deferred[_Client]:
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.front)
        protocol = _Client()
        return withTimeout(endpoint.connect(Factory.forProtocol(lambda: protocol)))

    @inlineCallbacks
    def test_matchingName(self) -> Any:
        """
        A target certificate valid for the name: the client's bytes go
        through TLS to the echo and back.
        """
        yield self.startPair("wrong.example")
        client = yield self.plainClient()
        client.transport.write(b"through\n")
        echoed = yield client.receivedAtLeast(8)
        self.assertEqual(echoed, b"through\n")
        client.transport.loseConnection()
        yield self.waitForLog("^EXIT: front")

    @inlineCallbacks
    def test_tlsFrontForRedirect(self) -> Any:
        """
        A redirect behind TLS: the TLS client's plaintext is relayed to a
        plain echo and back, and the TRAFFIC line counts it.
        """
        backend, front = freePorts(2)
        yield self.start(
            "service echo\n{\n type = INTERNAL UNLISTED\n socket_type = stream\n wait = no\n"
            f" port = {backend}\n bind = 127.0.0.1\n}}\n"
            + self.entry(
                "front",
                front,
                f" user = nobody\n redirect = 127.0.0.1 {backend}\n{self.tlsLines()}"
                " log_on_success += TRAFFIC\n",
            )
        )
        client = yield self.connect(front)
        client.transport.write(b"relayed\n")
        self.assertEqual((yield client.receivedAtLeast(8)), b"relayed\n")
        client.transport.loseConnection()
        lines = yield self.waitForLog("^TRAFFIC: front")
        self.assertIn("TRAFFIC: front in=8(bytes) out=8(bytes)", lines)

    @inlineCallbacks
    def test_halfCloseToOwnEcho(self) -> Any:
        """
        A client that sends and shuts down its side at once gets the whole
        echo from txinetd's own TLS echo and then a clean end of stream: its
        half-close reaches the target as C{close_notify} once its request
        is written inside TLS, and the reply is still read.  TRAFFIC counts
        both ways.
        """
        yield self.startPair("localhost", self.server, " log_on_success += TRAFFIC\n")
        request = b"hello redirect\n"
        received, ending = yield deferToThread(halfClosingExchange, self.front, request)
        self.assertEqual((received, ending), (request, None))
        lines = yield self.waitForLog("^TRAFFIC: front")
        self.assertIn("TRAFFIC: front in=15(bytes) out=15(bytes)", lines)

    @inlineCallbacks
    def trailingTarget(
        self, farewell: bool, version: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED
    ) -> Any:
        """
        A half-closing client through C{redirect_tls} to a target (speaking
        TLS up to C{version}) that answers only after the client's
        C{close_notify}, and ends with C{close_notify} (C{farewell}) or a
        bare TCP close.
        """
        reply = b"after close_notify\n" * 5000
        target = _TrailingTarget(self.server, reply, farewell, version)
        serving = deferToThread(target.serve)
        (front,) = freePorts(1, low=49000, high=49500)
        yield self.start(
            self.entry(
                "front",
                front,
                f" user = nobody\n redirect = 127.0.0.1 {target.port}\n redirect_tls = yes\n"
                f" redirect_tls_name = localhost\n redirect_tls_ca = {self.authority.path}\n"
                " log_on_success += TRAFFIC DURATION\n",
            )
        )
        request = b"hello redirect\n" * 3
        received, ending = yield deferToThread(halfClosingExchange, front, request)
        self.assertEqual((yield withTimeout(serving)), request)
        self.assertEqual(len(received), len(reply))
        self.assertEqual((received, ending), (reply, None))
        lines = yield self.waitForLog("^TRAFFIC: front")
        self.assertIn(f"TRAFFIC: front in={len(request)}(bytes) out={len(reply)}(bytes)", lines)

    def test_halfCloseReplyAfterCloseNotify(self) -> Any:
        """
        A target that sends its reply after the client's C{close_notify}
        and then its own: the client gets every byte and a clean end.
        """
        return self.trailingTarget(True)

    def test_halfCloseTargetClosesWithoutCloseNotify(self) -> Any:
        """
        A target that sends its reply after the client's C{close_notify}
        and then closes its TCP connection without C{close_notify}: that
        end of stream ends its reply, and the client gets every byte and a
        clean end.
        """
        return self.trailingTarget(False)

    def test_halfCloseOverTLS12(self) -> Any:
        """
        TLS 1.2 lets the target send after the client's C{close_notify}
        too.
        """
        return self.trailingTarget(True, ssl.TLSVersion.TLSv1_2)

    @inlineCallbacks
    def test_mismatchRefused(self) -> Any:
        """
        A target certificate for another name: the client is closed without
        a byte from the target, and the program log says why.
        """
        yield self.startPair("localhost")
        client = yield self.plainClient()
        client.transport.write(b"secret\n")
        received = yield client.done
        self.assertEqual(received, b"")
        yield self.daemon.waitFor(b"can't connect to remote host 127.0.0.1: TLS")
        self.assertIn(b"not valid for the name", bytes(self.daemon.output))

    @inlineCallbacks
    def test_noSubjectAltNameRefused(self) -> Any:
        """
        A target certificate of the trusted CA with the name in its common
        name only (no subjectAltName) is refused too: the client is closed
        without a byte from the target, and the program log says why.
        (Twisted alone logged the error and relayed to it.)
        """
        yield self.startPair("localhost", self.authority.server("localhost"))
        client = yield self.plainClient()
        client.transport.write(b"secret\n")
        received = yield client.done
        self.assertEqual(received, b"")
        yield self.daemon.waitFor(b"can't connect to remote host 127.0.0.1: TLS")
        self.assertIn(
            b"not valid for the name: Certificate does not contain any `subjectAltName`s.",
            bytes(self.daemon.output),
        )


class TLSPolicyTests(TLSTestCase):
    """
    Access rules, limits and reloads on a TLS service.
    """

    def echo(self, port: int, extra: str = "", issued: Issued | None = None) -> str:
        return (
            "service echo\n{\n type = INTERNAL UNLISTED\n socket_type = stream\n wait = no\n"
            f" port = {port}\n bind = 127.0.0.1\n{self.tlsLines(issued)}{extra}}}\n"
        )

    @inlineCallbacks
    def test_onlyFrom(self) -> Any:
        """
        only_from applies before the handshake: a ClientHello from
        127.0.0.1 gets no byte back (a server that began the handshake
        would answer it with its ServerHello, as it does for 127.0.0.2), and
        the client is refused with FAIL address; 127.0.0.2 is served.
        """
        (port,) = freePorts(1)
        yield self.start(self.echo(port, " only_from = 127.0.0.2\n"))
        refused = yield helloFrom("127.0.0.1", port)
        self.assertEqual(refused, b"")
        yield self.waitForLog("^FAIL: echo address from=127.0.0.1")
        answered = yield helloFrom("127.0.0.2", port)
        self.assertTrue(answered.startswith(SERVER_HELLO), answered[:16])
        served = yield self.connect(port, source="127.0.0.2")
        served.transport.write(b"ok\n")
        self.assertEqual((yield served.receivedAtLeast(3)), b"ok\n")
        served.transport.loseConnection()

    @inlineCallbacks
    def test_onlyFromBeforeServersAndRedirects(self) -> Any:
        """
        An external server and a redirect behind TLS, whose plaintext goes
        through a socketpair, refuse before the handshake too: a ClientHello
        from 127.0.0.1 gets no byte back, with FAIL address; 127.0.0.2's
        gets the ServerHello.
        """
        cat, front, backend = freePorts(3)
        refuse = " only_from = 127.0.0.2\n"
        yield self.start(
            self.entry("cat", cat, f" user = nobody\n server = /bin/cat\n{self.tlsLines()}{refuse}")
            + self.entry(
                "front",
                front,
                f" user = nobody\n redirect = 127.0.0.1 {backend}\n{self.tlsLines()}{refuse}",
            )
        )
        ports = {"cat": cat, "front": front}
        # The ClientHellos wait in the sockets before the daemon accepts:
        # the daemon must not read them, as it has them at once.
        self.process.signalProcess(signal.SIGSTOP)
        try:
            clients = {
                (name, source): queuedHello(source, port)
                for name, port in ports.items()
                for source in ("127.0.0.1", "127.0.0.2")
            }
        finally:
            self.process.signalProcess(signal.SIGCONT)
        for (name, source), client in clients.items():
            received = yield deferToThread(firstBytes, client)
            if source == "127.0.0.1":
                self.assertEqual(received, b"", name)
                yield self.waitForLog(f"^FAIL: {name} address from=127.0.0.1")
            else:
                self.assertTrue(received.startswith(SERVER_HELLO), (name, received[:16]))

    @inlineCallbacks
    def test_perSource(self) -> Any:
        """
        per_source = 1: while one TLS session from 127.0.0.1 runs, another
        is refused before the handshake (its ClientHello gets no byte back)
        with FAIL per_source_limit; 127.0.0.2 is still served.
        """
        (port,) = freePorts(1)
        yield self.start(self.echo(port, " per_source = 1\n"))
        first = yield self.connect(port)
        first.transport.write(b"1\n")
        yield first.receivedAtLeast(2)
        second = yield helloFrom("127.0.0.1", port)
        self.assertEqual(second, b"")
        yield self.waitForLog("^FAIL: echo per_source_limit from=127.0.0.1")
        other = yield self.connect(port, source="127.0.0.2")
        other.transport.write(b"2\n")
        self.assertEqual((yield other.receivedAtLeast(2)), b"2\n")
        first.transport.write(b"3\n")
        self.assertEqual((yield first.receivedAtLeast(4)), b"1\n3\n")
        for client in (first, other):
            client.transport.loseConnection()

    @inlineCallbacks
    def test_certificateReload(self) -> Any:
        """
        New certificate files and SIGHUP: new connections get the new
        certificate, an established one keeps working.
        """
        (port,) = freePorts(1)
        yield self.start(self.echo(port))
        before = yield self.connect(port)
        before.transport.write(b"a\n")
        yield before.receivedAtLeast(2)
        self.assertEqual(before.peerSubject(), "localhost")
        renewed = self.authority.server("renewed", "127.0.0.1", "localhost")
        os.replace(renewed.certificate, self.server.certificate)
        os.replace(renewed.key, self.server.key)
        self.process.signalProcess(signal.SIGHUP)
        yield self.daemon.waitFor(b"Reconfigured: new=0 old=1 dropped=0")
        after = yield self.connect(port)
        after.transport.write(b"c\n")
        yield after.receivedAtLeast(2)
        self.assertEqual(after.peerSubject(), "127.0.0.1")
        before.transport.write(b"b\n")
        self.assertEqual((yield before.receivedAtLeast(4)), b"a\nb\n")
        for client in (before, after):
            client.transport.loseConnection()


class UnreadableCertificateTests(TestCase):
    """
    A reconfiguration that asks for TLS when the certificate cannot be read
    (it vanished after the files were checked) never serves plaintext.
    """

    def test_plaintextNeverServed(self) -> None:
        tree = startTree(self, internalService("echo", "stream"))
        child = tree.getServiceNamed("echo-stream")
        assert isinstance(child, ListeningService)
        self.assertIsNotNone(child.address)
        missing = TLSSettings("/nonexistent/cert.pem", "/nonexistent/key.pem")
        child.reconfigure(replace(child.config, tls=missing), hard=False)
        self.assertIsNone(child.address)
        self.assertIsNone(child.tlsFront)
