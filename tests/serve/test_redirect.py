# -*- test-case-name: tests.serve.test_redirect -*-
"""
Tests for L{txinetd.serve.redirect}.
"""

from __future__ import annotations

import errno

from twisted.internet.error import ConnectionRefusedError, TimeoutError
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from txinetd.serve.redirect import describeConnectError


class DescribeTests(SynchronousTestCase):
    """
    L{describeConnectError}: the reason in C{can't connect to remote host},
    worded like xinetd's C{%m}.
    """

    def test_errno(self) -> None:
        failure = Failure(ConnectionRefusedError(errno.ECONNREFUSED, "ignored"))
        self.assertEqual(describeConnectError(failure), "Connection refused (errno = 111)")

    def test_timeout(self) -> None:
        self.assertEqual(
            describeConnectError(Failure(TimeoutError())), "Connection timed out (errno = 110)"
        )

    def test_other(self) -> None:
        self.assertEqual(describeConnectError(Failure(ValueError("odd"))), "odd")
