# -*- test-case-name: tests.core.test_sensor -*-
"""
The global SENSOR list: the clients that touched a C{flags = SENSOR}
service, refused by every service until their C{deny_time} is over.  Pure:
time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from txinetd.core.addresses import IPAddress, clientAddress
from txinetd.core.events import Level, ProgramMessage

__all__ = ["SensorExpiry", "SensorList"]


@dataclass(frozen=True)
class SensorExpiry:
    """
    The outcome of L{SensorList.expire}.

    @ivar removed: the addresses taken off the list.
    @ivar messages: INFO messages for the program log.
    """

    removed: tuple[str, ...]
    messages: tuple[ProgramMessage, ...]


class SensorList:
    """
    The global deny list that services with C{flags = SENSOR} feed, and
    that every service consults.  It lives as long as the daemon, across
    reconfigurations.

    Entries are single addresses.  A client listed again while still listed
    has its expiry extended to the later of the two.

    @cvar maximum: the most addresses the list holds.
    """

    maximum = 10240

    def __init__(self) -> None:
        self._expiries: dict[IPAddress, float | None] = {}

    def __len__(self) -> int:
        return len(self._expiries)

    def add(
        self, address: str | IPAddress, now: float, minutes: int | None
    ) -> ProgramMessage | None:
        """
        Record a hit on a SENSOR service.

        @param address: the client's address.
        @param now: the current time, in seconds since the epoch.
        @param minutes: the service's C{deny_time}: L{None} or a negative
            number for C{FOREVER}, C{0} for C{NEVER} (the client is not
            listed).
        @return: the program-log message to write, if any: CRITICAL
            C{Adding ...} for a new entry, ERROR when the list is full.
        """
        if minutes == 0:
            return None
        client = clientAddress(address)
        expiry = None if minutes is None or minutes < 0 else now + 60 * minutes
        if self.contains(client, now):
            current = self._expiries[client]
            if current is not None and (expiry is None or expiry > current):
                self._expiries[client] = expiry
            return None
        if client not in self._expiries and len(self._expiries) >= self.maximum:
            return ProgramMessage(Level.ERROR, "Maximum global_no_access count reached.")
        self._expiries[client] = expiry
        return ProgramMessage(
            Level.CRITICAL,
            f"Adding {client} to the global_no_access list for "
            f"{-1 if expiry is None else minutes} minutes",
        )

    def contains(self, address: str | IPAddress, now: float) -> bool:
        """
        Whether a client is listed and its entry has not expired at C{now}.
        """
        client = clientAddress(address)
        if client not in self._expiries:
            return False
        expiry = self._expiries[client]
        return expiry is None or now < expiry

    def entries(self, now: float) -> list[tuple[str, float | None]]:
        """
        The addresses listed at C{now}, each with when its entry expires
        (L{None}: never).
        """
        return [
            (str(client), expiry)
            for client, expiry in self._expiries.items()
            if expiry is None or now < expiry
        ]

    def expire(self, now: float) -> SensorExpiry:
        """
        Remove the entries that have expired at C{now}.
        """
        removed = [
            client
            for client, expiry in self._expiries.items()
            if expiry is not None and now >= expiry
        ]
        for client in removed:
            del self._expiries[client]
        messages: list[ProgramMessage] = []
        if removed:
            messages.append(
                ProgramMessage(
                    Level.INFO,
                    "At least 1 DENY_TIME has expired, global_no_access list updated",
                )
            )
            if not self._expiries:
                messages.append(ProgramMessage(Level.INFO, "global_no_access list is empty."))
        return SensorExpiry(tuple(str(client) for client in removed), tuple(messages))
