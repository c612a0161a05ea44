# -*- test-case-name: tests.test_namespaces -*-
"""
Tests for L{tests.namespaces} and the network namespace every test gets as
root (C{tests/conftest.py}).
"""

from __future__ import annotations

import os
import socket

from twisted.trial.unittest import SynchronousTestCase

from tests import conftest
from tests.namespaces import enterNewNetwork, namespaceId


class NamespaceTests(SynchronousTestCase):
    """
    As root, a test's sockets live in a namespace of its own.
    """

    def setUp(self) -> None:
        if os.geteuid() != 0:
            self.skipTest("network namespaces need root")

    def test_ownNetwork(self) -> None:
        """
        The test runs in another namespace than the one the suite started
        in.
        """
        self.assertNotEqual(namespaceId(), conftest.STARTED_IN)

    def test_enterAndLeave(self) -> None:
        """
        A socket listening on the wildcard address of a new namespace is
        reached there, over IPv4 and IPv6 loopback, and not from the
        namespace the thread goes back to.
        """
        before = namespaceId()
        leave = enterNewNetwork()
        try:
            self.assertNotEqual(namespaceId(), before)
            listening = socket.socket(socket.AF_INET6)
            self.addCleanup(listening.close)
            listening.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            listening.bind(("::", 0))
            listening.listen()
            port = listening.getsockname()[1]
            for host in ("127.0.0.1", "::1"):
                socket.create_connection((host, port), timeout=5).close()
        finally:
            leave()
        self.assertEqual(namespaceId(), before)
        with socket.socket() as client:
            self.assertNotEqual(client.connect_ex(("127.0.0.1", port)), 0)
