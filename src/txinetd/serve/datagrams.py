# -*- test-case-name: tests.serve.test_admission -*-
"""
The admission of datagrams (L{DatagramChecks}): the shorter path a datagram
of a dgram service takes through its service's admission -- the daemon's
own ports, the limits, the address rules -- with the number of datagrams
waiting for a look-up bounded, and refusals logged at most once a minute
per sender.
"""

from __future__ import annotations

from collections import OrderedDict

from twisted.internet.defer import Deferred, succeed

from txinetd.core.events import FailReason
from txinetd.serve.admission import Admission

__all__ = ["DGRAM_FAIL_QUIET", "DGRAM_FAIL_SENDERS", "DGRAM_WAITING", "DatagramChecks"]

#: A datagram refused for its address is logged at most once per this many
#: seconds per (address, port), as xinetd does.
DGRAM_FAIL_QUIET = 60.0

#: How many senders of refused datagrams a service remembers to keep quiet
#: about; past that, the one remembered longest is forgotten.
DGRAM_FAIL_SENDERS = 4096

#: How many datagrams of a service may wait for their address check (a
#: name lookup) at once; past that, datagrams are refused with
#: C{service_limit} until some have been checked.
DGRAM_WAITING = 64


class DatagramChecks:
    """
    The checks of one dgram service's datagrams, through its L{Admission}
    (one per admission: a reconfiguration starts them anew).

    @ivar quietUntil: when a refusal of each recent sender may be logged
        again, the soonest first.
    @ivar waiting: how many datagrams wait for their address check now.
    """

    def __init__(self, admission: Admission) -> None:
        self.admission = admission
        self.quietUntil: OrderedDict[tuple[str, int], float] = OrderedDict()
        self.waiting = 0

    def check(self, peer: tuple[str, int]) -> Deferred[bool]:
        """
        The checks for one datagram of a dgram service: a datagram from one
        of the daemon's own datagram ports (L{Shared.datagramPorts}) is
        refused for its address, before the limits count it; then the
        limits, then the address rules.  At most L{DGRAM_WAITING}
        datagrams wait for a name lookup at once; past that, one is refused
        with C{service_limit}.

        @return: whether to answer it; a refusal is logged (at most once a
            minute per sender).
        """
        admission = self.admission
        shared = admission.shared
        host = peer[0]
        now = shared.reactor.seconds()
        if peer[1] in shared.datagramPorts:
            # Sent (or forged) from a port of the daemon's own: answering
            # would start a loop.
            reason: FailReason | None = FailReason.ADDRESS
        else:
            reason = admission.checkLimits(host)
        if reason is None and self.waiting >= DGRAM_WAITING:
            # Each waiting datagram is kept until its lookup ends: shed.
            reason = FailReason.SERVICE_LIMIT
        checked = succeed(reason) if reason is not None else admission.checkAddress(host)
        if not checked.called:
            self.waiting += 1
            checked.addBoth(self._checked)

        def conclude(reason: FailReason | None) -> bool:
            if reason is None:
                return True
            if self._logsRefusal(peer, now):
                admission.failed(reason, host, peer[1])
            return False

        return checked.addCallback(conclude)

    def _checked(self, result: object) -> object:
        self.waiting -= 1
        return result

    def _logsRefusal(self, peer: tuple[str, int], now: float) -> bool:
        """
        Whether a refused datagram from C{peer} is logged: not if a refusal
        of C{peer} was logged in the last L{DGRAM_FAIL_QUIET} seconds.
        Senders whose quiet time is over are forgotten, the soonest first
        (each once, so the cost does not grow with their number), and so is
        the oldest when L{DGRAM_FAIL_SENDERS} are remembered.
        """
        quiet = self.quietUntil
        while quiet:
            oldest, until = next(iter(quiet.items()))
            if until > now:
                break
            del quiet[oldest]
        if quiet.get(peer, now) > now:
            return False
        quiet.pop(peer, None)
        if len(quiet) >= DGRAM_FAIL_SENDERS:
            quiet.popitem(last=False)
        quiet[peer] = now + DGRAM_FAIL_QUIET
        return True
