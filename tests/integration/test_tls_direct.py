"""
TLS in front of internal services, whose plaintext stays in process
(L{txinetd.net.tlsdirect}), served by the real twistd to real TLS clients:
a client's C{close_notify} answered after its echo, banners inside TLS,
START and EXIT lines, a refused client certificate, a client that does not
read chargen, sessions ended by SIGTERM, and the daemon's descriptors.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import struct
from typing import Any

from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread

from .support import freePorts, pollUntil
from .test_tls import TLSTestCase, helloFrom


def closeNotifyExchange(
    port: int, payload: bytes, notify: bool = True, shutDown: bool = False
) -> tuple[bytes, bool]:
    """
    Over a fresh TLS connection, send C{payload} and C{close_notify} at
    once after the handshake (C{notify}; else no C{close_notify}), shut
    the TCP connection's sending side down (C{shutDown}), then read
    everything until the end of the TCP stream (a blocking client, for a
    thread).

    @return: what came back, and whether the server's C{close_notify} came
        before the end of the stream.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
                data = sock.recv(65536)
                if not data:
                    return b"", False
                incoming.write(data)
        if payload:
            tls.write(payload)
        if notify:
            with contextlib.suppress(ssl.SSLWantReadError):
                tls.unwrap()
        sock.sendall(outgoing.read())
        if shutDown:
            sock.shutdown(socket.SHUT_WR)
        received = bytearray()
        notified = False
        while data := sock.recv(65536):
            incoming.write(data)
            while not notified:
                try:
                    piece = tls.read(65536)
                except ssl.SSLWantReadError:
                    break
                except ssl.SSLZeroReturnError:
                    notified = True
                    break
                if not piece:
                    notified = True
                    break
                received += piece
    return bytes(received), notified


def rss(pid: int) -> int:
    """
    A process's resident memory, in KiB.
    """
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


class InProcessTLSTests(TLSTestCase):
    """
    Internal services behind TLS, without a socketpair.
    """

    def internal(self, name: str, port: int, extra: str = "") -> str:
        return (
            f"service {name}\n{{\n type = INTERNAL UNLISTED\n socket_type = stream\n"
            f" wait = no\n port = {port}\n bind = 127.0.0.1\n{self.tlsLines()}{extra}}}\n"
        )

    @inlineCallbacks
    def test_closeNotifyAnswered(self) -> Any:
        """
        A client that sends its data and C{close_notify} together gets its
        echo, then the server's C{close_notify}, then the end of the
        stream; the session has its START and EXIT lines (with its
        duration).
        """
        (port,) = freePorts(1)
        yield self.start(self.internal("echo", port, " log_on_success += DURATION\n"))
        payload = bytes(range(256)) * 4
        echoed, notified = yield deferToThread(closeNotifyExchange, port, payload)
        self.assertEqual((echoed, notified), (payload, True))
        lines = yield self.waitForLog("^EXIT: echo")
        self.assertIn("START: echo pid=0 from=127.0.0.1", lines)
        self.assertRegex(lines[-1], r"^EXIT: echo status=0 pid=0 duration=\d+\(sec\)$")
        # A client that has shut its side down too is served by the
        # service's protocol (the socket holds records, not what it sent).
        echoed, notified = yield deferToThread(closeNotifyExchange, port, payload, True, True)
        self.assertEqual((echoed, notified), (payload, True))

    @inlineCallbacks
    def test_replyClosed(self) -> Any:
        """
        A daytime client that never sends C{close_notify} gets the line,
        the server's C{close_notify} and the end of the TCP stream: the
        server does not wait for the client's C{close_notify}.
        """
        (port,) = freePorts(1)
        yield self.start(self.internal("daytime", port))
        line, notified = yield deferToThread(closeNotifyExchange, port, b"", False)
        self.assertRegex(line.decode(), r"^\d\d [A-Z]{3} \d{4} \d\d:\d\d:\d\d \w+\r\n$")
        self.assertTrue(notified)
        yield self.waitForLog("^EXIT: daytime")

    @inlineCallbacks
    def test_echoClosed(self) -> Any:
        """
        An echo session that the service ends (the client's connection
        ends without C{close_notify}) ends its TCP stream too.
        """
        (port,) = freePorts(1)
        yield self.start(self.internal("echo", port))
        client = yield self.connect(port)
        client.transport.write(b"bye\n")
        yield client.receivedAtLeast(4)
        client.transport.transport.loseConnection()
        self.assertEqual((yield client.done), b"bye\n")
        yield self.waitForLog("^EXIT: echo")

    @inlineCallbacks
    def test_bannerInsideTLS(self) -> Any:
        """
        The banner is the first plaintext a TLS echo client gets, inside
        TLS; what it sends comes back after it.
        """
        (port,) = freePorts(1)
        banner = os.path.join(self.directory, "banner")
        with open(banner, "wb") as f:
            f.write(b"welcome\r\n")
        yield self.start(self.internal("echo", port, f" banner = {banner}\n"))
        client = yield self.connect(port)
        client.transport.write(b"ping\n")
        received = yield client.receivedAtLeast(14)
        self.assertEqual(received, b"welcome\r\nping\n")
        client.transport.loseConnection()
        yield self.waitForLog("^EXIT: echo")

    @inlineCallbacks
    def test_clientCertificateRefused(self) -> Any:
        """
        With C{tls_client_ca}, an echo client without a certificate is
        refused with C{FAIL: echo tls} and never started; one with a
        certificate of the CA is served and identified by it.
        """
        (port,) = freePorts(1)
        yield self.start(self.internal("echo", port, f" tls_client_ca = {self.authority.path}\n"))
        refused = yield self.connect(port)
        refused.transport.write(b"x\n")
        yield refused.done
        lines = yield self.waitForLog("^FAIL: echo tls")
        self.assertFalse([line for line in lines if line.startswith("START")])
        issued = self.authority.client("alice", "alice")
        client = yield self.connect(port, client=issued)
        client.transport.write(b"ok\n")
        self.assertEqual((yield client.receivedAtLeast(3)), b"ok\n")
        client.transport.loseConnection()
        lines = yield self.waitForLog("^EXIT: echo")
        self.assertTrue([line for line in lines if line.startswith("USERID: echo X509 : ")])

    @inlineCallbacks
    def test_chargenNotRead(self) -> Any:
        """
        A chargen client that stops reading does not make the daemon
        buffer without bound: the TLS layer pauses chargen, and the daemon
        keeps serving others meanwhile.
        """
        (chargen, echo) = freePorts(2)
        yield self.start(self.internal("chargen", chargen) + self.internal("echo", echo))
        pid = self.process.pid
        before = rss(pid)
        client = yield self.connect(chargen)
        yield client.receivedAtLeast(1)
        client.transport.pauseProducing()
        for _ in range(20):
            other = yield self.connect(echo)
            other.transport.write(b"still\n")
            yield other.receivedAtLeast(6)
            other.transport.loseConnection()
        # Unpaused, chargen fills memory at hundreds of MB a second.
        self.assertLess(rss(pid) - before, 32 * 1024)
        client.transport.abortConnection()
        yield self.waitForLog("^EXIT: chargen")

    @inlineCallbacks
    def test_stoppedBySIGTERM(self) -> Any:
        """
        A running TLS echo session is ended when the daemon stops: the
        client sees its connection end, and the session its EXIT line.
        """
        (port,) = freePorts(1)
        yield self.start(self.internal("echo", port))
        client = yield self.connect(port)
        client.transport.write(b"up\n")
        yield client.receivedAtLeast(3)
        yield self.stop()
        self.assertEqual((yield client.done), b"up\n")
        self.assertTrue([line for line in self.logLines() if line.startswith("EXIT: echo")])

    @inlineCallbacks
    def test_descriptors(self) -> Any:
        """
        Clients served, closing with C{close_notify}, turned away by
        only_from before the handshake, and reset at once, leave no
        descriptor behind.
        """
        (port,) = freePorts(1)
        yield self.start(self.internal("echo", port, " only_from = 127.0.0.1\n"))
        pid = self.process.pid
        warmUp = yield self.connect(port)
        warmUp.transport.write(b"warm\n")
        yield warmUp.receivedAtLeast(5)
        warmUp.transport.loseConnection()
        yield self.waitForLog("^EXIT: echo")
        before = len(os.listdir(f"/proc/{pid}/fd"))
        linger = struct.pack("ii", 1, 0)
        for _ in range(10):
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                sock.connect(("127.0.0.1", port))
            client = yield self.connect(port)
            client.transport.write(b"x\n")
            yield client.receivedAtLeast(2)
            client.transport.loseConnection()
            yield client.done
            self.assertEqual((yield helloFrom("127.0.0.2", port)), b"")
            yield deferToThread(closeNotifyExchange, port, b"y")
        yield pollUntil(
            lambda: len([x for x in self.logLines() if x.startswith("EXIT: echo")]) == 21 or None,
            lambda: f"21 EXIT lines in {self.logLines()}",
        )
        # Fails with a timeout unless the descriptors come back down.
        yield pollUntil(
            lambda: len(os.listdir(f"/proc/{pid}/fd")) <= before or None,
            lambda: f"{before} descriptors, not {os.listdir(f'/proc/{pid}/fd')}",
        )
