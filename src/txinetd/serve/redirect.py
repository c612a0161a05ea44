# -*- test-case-name: tests.serve.test_redirect -*-
"""
The C{redirect} service: an admitted connection relayed to another host
(L{txinetd.net.relay}), its TRAFFIC, and why a target could not be reached.
"""

from __future__ import annotations

import errno
import os

from twisted.internet.error import TimeoutError
from twisted.python.failure import Failure

from txinetd.net.tls import describeTLSFailure

__all__ = ["describeConnectError"]


def describeConnectError(failure: Failure) -> str:
    """
    The reason in C{can't connect to remote host <ip>: <reason>}, worded
    like xinetd's C{%m}.
    """
    error = failure.value
    number = getattr(error, "osError", None)
    if isinstance(number, int):
        return f"{os.strerror(number)} (errno = {number})"
    if isinstance(error, TimeoutError):
        return f"{os.strerror(errno.ETIMEDOUT)} (errno = {errno.ETIMEDOUT})"
    if type(error).__module__.split(".")[0] in ("OpenSSL", "service_identity"):
        return f"TLS: {describeTLSFailure(failure)}"
    return str(error)
