# -*- test-case-name: tests.builtins.test_simple -*-
"""
A second example plugin module whose services claim names that other
plugins already serve: txinetd's own C{echo} and the C{hello} of
C{txinetd_example}, which sorts before this module.  Neither is ever chosen.
"""

from __future__ import annotations

from txinetd.internal import StreamService, WriteAndCloseProtocol

rivalEcho = StreamService("echo", lambda context: WriteAndCloseProtocol(b"rival echo\r\n"))
rivalHello = StreamService("HELLO", lambda context: WriteAndCloseProtocol(b"rival hello\r\n"))
