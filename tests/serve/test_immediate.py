# -*- test-case-name: tests.serve.test_immediate -*-
"""
Tests for L{txinetd.serve.immediate}: what a client sent, read at once only
when it has all arrived.
"""

from __future__ import annotations

import select
import socket

from twisted.trial.unittest import SynchronousTestCase

from txinetd.serve.immediate import AT_ONCE_LIMIT, receivedWhole


def connected(testCase: SynchronousTestCase) -> tuple[socket.socket, socket.socket]:
    """
    A TCP connection on loopback: (the accepted socket, in blocking mode as
    txinetd holds it; the client).
    """
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    testCase.addCleanup(client.close)
    testCase.addCleanup(server.close)
    return server, client


def waitForShutdown(server: socket.socket) -> None:
    """
    Wait until the client's end of file has reached C{server} (nothing is
    read).
    """
    poller = select.poll()
    poller.register(server, select.POLLRDHUP)
    if not poller.poll(5000):
        raise AssertionError("the client's end of file never came")


class ReceivedWholeTests(SynchronousTestCase):
    def test_sentAndShutDown(self) -> None:
        """
        A client that sent its bytes and shut its side down: they are all
        read, and what is left is the end of file.
        """
        server, client = connected(self)
        client.sendall(b"x" * 1000 + b"y")
        client.shutdown(socket.SHUT_WR)
        waitForShutdown(server)
        self.assertEqual(receivedWhole(server), b"x" * 1000 + b"y")
        self.assertEqual(server.recv(10, socket.MSG_DONTWAIT), b"")

    def test_nothingSent(self) -> None:
        """
        A client that shut its side down without a byte: nothing.
        """
        server, client = connected(self)
        client.shutdown(socket.SHUT_WR)
        waitForShutdown(server)
        self.assertEqual(receivedWhole(server), b"")

    def test_stillSending(self) -> None:
        """
        A client that may still send: nothing is read.
        """
        server, client = connected(self)
        client.sendall(b"hello")
        server.settimeout(5)
        self.assertEqual(server.recv(5, socket.MSG_PEEK | socket.MSG_WAITALL), b"hello")
        self.assertIsNone(receivedWhole(server))
        self.assertEqual(server.recv(5, socket.MSG_DONTWAIT), b"hello")

    def test_tooMuch(self) -> None:
        """
        A client that sent more than the limit: nothing is read; at the
        limit, everything is.
        """
        server, client = connected(self)
        client.sendall(b"z" * 11)
        client.shutdown(socket.SHUT_WR)
        waitForShutdown(server)
        self.assertIsNone(receivedWhole(server, limit=10))
        self.assertEqual(receivedWhole(server, limit=11), b"z" * 11)

    def test_limitIsBounded(self) -> None:
        """
        The default limit is 64 KiB: a client that sent more is left to the
        service's protocol.
        """
        server, client = connected(self)
        client.sendall(b"a" * (AT_ONCE_LIMIT + 1))
        client.shutdown(socket.SHUT_WR)
        waitForShutdown(server)
        self.assertIsNone(receivedWhole(server))
        self.assertEqual(AT_ONCE_LIMIT, 65536)
