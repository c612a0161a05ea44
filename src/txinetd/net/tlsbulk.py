# -*- test-case-name: tests.net.test_tlsbulk -*-
"""
Twisted's TLS protocol, with bulk writes.

L{twisted.protocols.tls.TLSMemoryBIOProtocol} hands OpenSSL 16 KiB at a
time and takes 32 KiB of records back at a time: a Python round for every
record, which is what bounded a bulk transfer behind TLS.  OpenSSL makes
the records itself from a larger write (into the memory BIO, which grows),
so L{BulkTLSProtocol} hands it the records of up to L{WRITE_CHUNK} bytes
without a write to the transport between them, then takes them all in one
read and one write.  The records on the wire are the same
(OpenSSL's 16 KiB records); only the Python work between them goes.

pyOpenSSL turns on OpenSSL's partial writes, with which OpenSSL returns
after every record: one Python call for every 16 KiB.  A connection of
L{BulkTLSProtocol} turns them off, where the binding allows it, so that
OpenSSL makes a chunk's records in one call; where it does not, the
records are handed over one at a time, as before.  L{tuneTransport} lets
the TCP transport under it send a chunk's records in one system call and
keep reading from the server while they go out; L{sendNow} sends a flight
of records at once instead of at the reactor's next turn.
"""

from __future__ import annotations

from typing import Any

from OpenSSL import SSL
from OpenSSL.SSL import Error, WantReadError
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.python.failure import Failure

__all__ = [
    "READ_CHUNK",
    "WRITE_CHUNK",
    "BulkTLSProtocol",
    "sendNow",
    "tuneTransport",
    "wholeWrites",
]

#: The most application bytes whose records go to the transport together.
WRITE_CHUNK = 2**18

#: What a read of the records OpenSSL made asks for at least.
READ_CHUNK = 2**15

#: The most a TLS record adds to its payload (header, tag, padding byte).
RECORD_OVERHEAD = 256

#: The largest TLS record payload.
RECORD = 2**14


def _expected(payload: int) -> int:
    """
    How many bytes of records C{payload} bytes make, at most.
    """
    return payload + (payload // RECORD + 1) * RECORD_OVERHEAD


#: The records of one chunk: what the transport sends in one system call,
#: and what it holds before it pauses its producer (the server's side).
TRANSPORT_CHUNK = _expected(WRITE_CHUNK)


def wholeWrites(connection: SSL.Connection) -> bool:
    """
    Turn off OpenSSL's partial writes on C{connection}, which pyOpenSSL
    turns on: a write then returns once all of its records are made.
    pyOpenSSL has no public call for it; its binding's C{SSL_clear_mode}
    is used where it is there.

    @return: whether partial writes are off.
    """
    lib = getattr(SSL, "_lib", None)
    clear = getattr(lib, "SSL_clear_mode", None)
    partial = getattr(lib, "SSL_MODE_ENABLE_PARTIAL_WRITE", None)
    handle = getattr(connection, "_ssl", None)
    if clear is None or partial is None or handle is None:
        return False
    return not int(clear(handle, partial)) & int(partial)


def tuneTransport(transport: Any) -> None:
    """
    Let Twisted's TCP C{transport} under a L{BulkTLSProtocol} send a
    chunk's records in one C{send} (Twisted sends at most 128 KiB at a
    time) and hold one chunk's records before it pauses its producer
    (64 KiB by default, which paused the server's side after every
    chunk).  Twisted's transport reads up to C{bufferSize} bytes at a
    time too.
    """
    transport.SEND_LIMIT = TRANSPORT_CHUNK
    transport.bufferSize = TRANSPORT_CHUNK


def sendNow(transport: Any, data: bytes) -> None:
    """
    Write C{data} to Twisted's TCP C{transport}, sending what its socket
    takes at once when nothing of the transport's waits before it.

    Twisted's transport only queues a write and sends it at the reactor's
    next turn: a wake-up, two C{epoll_ctl} calls and a C{send} for every
    flight of records (the handshake, a reply, C{close_notify}).  What the
    socket does not take, and everything when anything waits already or
    the send fails, goes through the transport as usual, which then sees
    and reports the failure itself.
    """
    sock = getattr(transport, "socket", None)
    if (
        sock is not None
        and getattr(transport, "connected", False)
        and not transport.disconnecting
        and len(transport.dataBuffer) == transport.offset
        and not transport._tempDataLen
    ):
        try:
            sent = sock.send(data)
        except OSError:
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)


class BulkTLSProtocol(TLSMemoryBIOProtocol):
    """
    L{TLSMemoryBIOProtocol} whose records go to its transport L{WRITE_CHUNK}
    bytes of payload at a time.

    @ivar _step: how much one call to OpenSSL is given: L{WRITE_CHUNK}
        with partial writes off, a record's worth otherwise.
    """

    _step = RECORD

    def makeConnection(self, transport: Any) -> None:
        super().makeConnection(transport)  # type: ignore[no-untyped-call]
        if wholeWrites(self._tlsConnection):
            self._step = WRITE_CHUNK

    def _write(self, data: Any) -> None:
        if self._lostTLSConnection:
            return
        view = memoryview(data)
        done = flushed = 0
        total = len(view)
        while done < total:
            try:
                # With partial writes, OpenSSL takes one record's worth at a
                # time; without, a chunk's.  The view copies nothing.
                done += self._tlsConnection.send(view[done : done + self._step])
            except WantReadError:
                # Without partial writes, OpenSSL may have made some of the
                # chunk's records already: it goes on from there when the
                # same bytes come again (pyOpenSSL lets the buffer move).
                self._bufferedWrite(bytes(view[done:]))  # type: ignore[no-untyped-call]
                break
            except Error:
                # As Twisted does: the TLS connection is taken as lost.
                self._tlsShutdownFinished(Failure())  # type: ignore[no-untyped-call]
                return
            if done - flushed >= WRITE_CHUNK:
                self._flushSendBIO(_expected(done - flushed))
                flushed = done
        if done > flushed:
            self._flushSendBIO(_expected(done - flushed))

    def _flushSendBIO(self, expected: int = READ_CHUNK) -> None:
        """
        Write every record OpenSSL has made to the transport, in one write
        when C{expected} bytes or fewer wait.
        """
        size = max(expected, READ_CHUNK)
        pieces = []
        while True:
            try:
                piece = self._tlsConnection.bio_read(size)
            except WantReadError:
                break
            pieces.append(piece)
            if len(piece) < size:
                break
        if pieces and self.transport is not None:
            sendNow(self.transport, pieces[0] if len(pieces) == 1 else b"".join(pieces))
