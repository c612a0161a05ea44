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
"""

from __future__ import annotations

from typing import Any

from OpenSSL.SSL import Error, WantReadError
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.python.failure import Failure

__all__ = ["READ_CHUNK", "WRITE_CHUNK", "BulkTLSProtocol"]

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


class BulkTLSProtocol(TLSMemoryBIOProtocol):
    """
    L{TLSMemoryBIOProtocol} whose records go to its transport L{WRITE_CHUNK}
    bytes of payload at a time.
    """

    def _write(self, data: Any) -> None:
        if self._lostTLSConnection:
            return
        view = memoryview(data)
        done = flushed = 0
        total = len(view)
        while done < total:
            try:
                # OpenSSL takes one record's worth at a time (pyOpenSSL allows
                # partial writes); the view copies nothing.
                done += self._tlsConnection.send(view[done : done + RECORD])
            except WantReadError:
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
            self.transport.write(pieces[0] if len(pieces) == 1 else b"".join(pieces))
