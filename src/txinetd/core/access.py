# -*- test-case-name: tests.core.test_access -*-
"""
The address decision: C{only_from}, C{no_access} and the global SENSOR
list, for one client (and, for C{-d}, which entry decided).  Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from txinetd.core.addresses import IPAddress, clientAddress
from txinetd.core.addresslists import AddressList, describeEntry
from txinetd.core.events import Level, ProgramMessage
from txinetd.core.sensor import SensorList

__all__ = ["AccessDecision", "decide", "explainAddress"]


@dataclass(frozen=True)
class AccessDecision:
    """
    The outcome of the address check.  A refusal is always FAIL C{address}.

    @ivar allowed: whether the client may be served.
    @ivar message: a program-log message to write, if any.
    """

    allowed: bool
    message: ProgramMessage | None = None


_ALLOW = AccessDecision(True)
_DENY = AccessDecision(False)


def decide(
    serviceId: str,
    address: str | IPAddress | None,
    reverseName: str | None,
    onlyFrom: AddressList | None,
    noAccess: AddressList | None,
    sensor: SensorList | None,
    now: float,
) -> AccessDecision:
    """
    Decide whether a client may use a service.

    A client on the SENSOR list is refused.  Otherwise, with no lists at
    all, it is allowed.  If both lists match, the more specific match
    wins (a longer prefix; a host beats a network, a network beats a
    domain); equal matches refuse with an ERROR message.  A match in
    C{no_access} alone refuses, an C{only_from} list (even empty) that does
    not match refuses, anything else is allowed.

    @param serviceId: the service's id, for the message.
    @param address: the client's address, or L{None} when there is none
        (a C{wait = yes} stream service): then the client is allowed.
    @param reverseName: the client's reverse name, if the caller looked it
        up (see L{AddressList.needsReverseName}).
    @param onlyFrom: the C{only_from} list, L{None} if not specified.
    @param noAccess: the C{no_access} list, L{None} if not specified.
    @param sensor: the global SENSOR list.
    @param now: the current time, in seconds since the epoch.
    """
    if address is None:
        return _ALLOW
    client = clientAddress(address)
    if sensor is not None and sensor.contains(client, now):
        return _DENY
    allowMatch = onlyFrom.bestMatch(client, reverseName) if onlyFrom is not None else None
    denyMatch = noAccess.bestMatch(client, reverseName) if noAccess is not None else None
    if allowMatch is not None and denyMatch is not None:
        if allowMatch == denyMatch:
            return AccessDecision(
                False,
                ProgramMessage(
                    Level.ERROR,
                    f"Service={serviceId}: only_from list and no_access list "
                    f"match equally the address {client}",
                ),
            )
        return _ALLOW if allowMatch > denyMatch else _DENY
    if denyMatch is not None or (onlyFrom is not None and allowMatch is None):
        return _DENY
    return _ALLOW


def explainAddress(
    address: str | IPAddress,
    reverseName: str | None,
    onlyFrom: AddressList | None,
    noAccess: AddressList | None,
    sensor: SensorList | None,
    now: float,
) -> str:
    """
    Why L{decide} refuses a client, naming the entry that did it (for
    C{-d}); the arguments are those of L{decide}.
    """
    client = clientAddress(address)
    if sensor is not None and sensor.contains(client, now):
        return f"{client} is on the SENSOR list"
    allow = None if onlyFrom is None else onlyFrom.matchingEntry(client, reverseName)
    deny = None if noAccess is None else noAccess.matchingEntry(client, reverseName)
    if deny is not None and allow is not None:
        return (
            f"no_access entry {describeEntry(deny)} is at least as specific as only_from "
            f"entry {describeEntry(allow)}"
        )
    if deny is not None:
        return f"no_access entry {describeEntry(deny)} matches {client}"
    if onlyFrom is not None and not onlyFrom.entries:
        return "only_from is empty"
    if onlyFrom is not None and allow is None:
        shown = [describeEntry(entry) for entry in onlyFrom.entries[:_SHOWN]]
        more = len(onlyFrom.entries) - len(shown)
        listed = " ".join(shown) + (f" and {more} more" if more else "")
        named = "" if reverseName is None else f" (named {reverseName})"
        return f"no only_from entry matches {client}{named}: {listed}"
    return f"{client} is allowed by only_from and no_access"


#: How many C{only_from} entries L{explainAddress} shows.
_SHOWN = 5
