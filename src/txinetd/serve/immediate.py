# -*- test-case-name: tests.serve.test_immediate -*-
"""
A client served at once on its accepted socket, without a transport.

Most clients of echo or discard have sent all they will send, and shut
their side down, by the time the daemon admits them.  An internal service
whose answer depends only on what the client sent (its C{answer}; see
L{txinetd.interfaces.IInternalService}) is then served from what is
already there: read without waiting, answered, and closed, in the same
wake-up of the reactor.  A client that is still sending, or that sent
more than L{AT_ONCE_LIMIT} bytes, is left untouched (nothing is read) for
the service's protocol on a Twisted transport, as any other.
"""

from __future__ import annotations

import array
import fcntl
import select
import socket
import termios

__all__ = ["AT_ONCE_LIMIT", "receivedWhole"]

#: The most a client may have sent for it to be served at once.
AT_ONCE_LIMIT = 65536

_RECV_FLAGS = socket.MSG_DONTWAIT

_poller = select.poll()


def _shutDown(fd: int) -> bool:
    """
    Whether the client has shut its side of the connection down (or the
    connection failed): all it will send is already here.
    """
    _poller.register(fd, select.POLLIN | select.POLLRDHUP)
    try:
        events = _poller.poll(0)
    finally:
        _poller.unregister(fd)
    return bool(events) and bool(events[0][1] & (select.POLLRDHUP | select.POLLHUP))


def _waiting(fd: int) -> int:
    """
    How many bytes wait to be read.
    """
    count = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, count)
    return count[0]


def receivedWhole(sock: socket.socket, limit: int = AT_ONCE_LIMIT) -> bytes | None:
    """
    Everything the client sent, if it has already shut its side down after
    at most C{limit} bytes; read now, without waiting.

    @return: the bytes (possibly none), or L{None} if the client may still
        send or sent too much: then nothing was read.
    @raise OSError: if the connection failed (reset by the client).
    """
    fd = sock.fileno()
    if not _shutDown(fd):
        return None
    size = _waiting(fd)
    if size > limit:
        return None
    chunks = []
    while size > 0:
        chunk = sock.recv(size, _RECV_FLAGS)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
