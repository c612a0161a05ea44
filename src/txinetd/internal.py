# -*- test-case-name: tests.builtins.test_simple -*-
"""
What a third-party internal service imports: the context it is given, and
the two ready-made providers of L{txinetd.interfaces.IInternalService} that
a plugin module binds to a name (see the README's "Adding an internal
service" and C{tests/plugins_example}).

txinetd's own built-ins are made the same way, in L{txinetd.builtins}.
"""

from __future__ import annotations

from txinetd.builtins.simple import (
    DatagramAnswer,
    DatagramService,
    InternalContext,
    ProtocolFactory,
    StreamService,
    WriteAndCloseProtocol,
)
from txinetd.interfaces import IInternalService

__all__ = [
    "DatagramAnswer",
    "DatagramService",
    "IInternalService",
    "InternalContext",
    "ProtocolFactory",
    "StreamService",
    "WriteAndCloseProtocol",
]
