# -*- test-case-name: tests.integration.test_service_lifecycle -*-
"""
Ending running sessions: SIGTERM first, SIGKILL after a grace period
(L{terminate}), when txinetd stops, when a service is removed, or when a hard
reconfiguration refuses them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import (
    Deferred,
)

from txinetd.core.events import Level
from txinetd.daemon.programlog import programMessage
from txinetd.serve.session import Session

__all__ = ["STOP_GRACE", "STOP_POLL", "terminate"]

#: Seconds running servers get between SIGTERM and SIGKILL when txinetd stops,
#: when their service is removed, or when a hard reconfiguration refuses them.
STOP_GRACE = 5.0
STOP_POLL = 0.05


def terminate(
    reactor: Any, sessions: Callable[[], list[Session]], grace: float = STOP_GRACE
) -> Deferred[None]:
    """
    Ask running sessions to end (a server gets SIGTERM), end those still
    running after C{grace} seconds at once (SIGKILL), and fire when all
    have ended (or, for servers that even SIGKILL does not end, after
    another grace).  Cancelling it stops it where it is.

    @param sessions: the sessions to end, asked again at every poll.
    """
    polls: list[Any] = []
    done: Deferred[None] = Deferred(lambda _: polls[-1].cancel())
    deadline = reactor.seconds() + grace
    for session in sessions():
        session.stop(force=False)

    def poll(killed: bool) -> None:
        remaining = [session for session in sessions() if not session.done]
        now = reactor.seconds()
        if not remaining or (killed and now >= deadline + grace):
            done.callback(None)
            return
        if not killed and now >= deadline:
            for session in remaining:
                if session.pid:
                    programMessage(
                        Level.WARNING,
                        f"Sending signal 9 to {session.admission.serviceId} server {session.pid}",
                    )
                session.stop(force=True)
            killed = True
        polls[:] = [reactor.callLater(STOP_POLL, poll, killed)]

    poll(False)
    return done
