"""
What Linux's C{TCP_INFO} tells of a socket, for the tests that count the
segments of a connection.
"""

from __future__ import annotations

import socket
import struct

from twisted.trial.unittest import SkipTest

#: Where struct tcp_info has tcpi_segs_in (Linux 4.2 and later).
SEGS_IN_OFFSET = 140


def segmentsReceived(sock: socket.socket) -> int:
    """
    How many TCP segments C{sock} has received.

    @raise SkipTest: if the kernel does not count them.
    """
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    if len(info) < SEGS_IN_OFFSET + 4:
        raise SkipTest("this kernel's TCP_INFO has no tcpi_segs_in")
    count: int = struct.unpack_from("I", info, SEGS_IN_OFFSET)[0]
    if count == 0:
        raise SkipTest("this kernel does not count the segments a socket receives")
    return count
