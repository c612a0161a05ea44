# -*- test-case-name: tests.core.test_verdicts -*-
"""
The verdicts of admission, pure: may a client use a service, from the
service's rules (L{AdmissionRules}, compiled once per configuration) and
what is known of the client.

Two verdicts, as xinetd makes them: the limits (L{limitVerdict}: cps,
load, access_times, instances, per_source, C{-limit}, checked in the
daemon before anything else), and the address (L{addressVerdict}: the
SENSOR list, C{only_from} and C{no_access}, hosts.allow and hosts.deny,
once what they need is looked up).  A verdict says why a client is
refused, what the program log says about it, and, when asked (C{-d}),
which rule refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from txinetd.core.access import decide, explainAddress
from txinetd.core.addresslists import AddressList
from txinetd.core.config import ServiceConfig, ServiceKind
from txinetd.core.events import FailReason, Level, ProgramMessage
from txinetd.core.libwrap import HostsAccess, libwrapDaemonName
from txinetd.core.limits import (
    CpsLimiter,
    LimitRules,
    LoadAverage,
    ProcessLimit,
    RunningServers,
    checkLimits,
    explainLimit,
)
from txinetd.core.sensor import SensorList
from txinetd.core.times import TimeIntervals
from txinetd.core.values import Flag

__all__ = ["ADMITTED", "AdmissionRules", "Verdict", "addressVerdict", "limitVerdict"]


@dataclass(frozen=True)
class Verdict:
    """
    The outcome of a check.

    @ivar reason: why the client is refused, or L{None}: it is not.
    @ivar messages: what the program log says about it.
    @ivar explanation: which rule refused and what it met, when it was
        asked for (C{-d}).
    """

    reason: FailReason | None
    messages: tuple[ProgramMessage, ...] = ()
    explanation: str | None = None


#: The verdict that lets a client through (made once: most are).
ADMITTED = Verdict(None)


@dataclass(frozen=True)
class AdmissionRules:
    """
    One service's admission rules, compiled once per configuration.

    @ivar serviceId: the service's id, for messages.
    @ivar limits: its C{instances}, C{per_source}, C{max_load} and
        C{access_times}.
    @ivar onlyFrom: its compiled C{only_from}, L{None} if not given.
    @ivar noAccess: its compiled C{no_access}, L{None} if not given.
    @ivar libwrapName: its daemon name in hosts.allow and hosts.deny, or
        L{None} if they do not apply to it.
    @ivar sensor: whether it is a SENSOR service (which refuses and lists
        every client).
    @ivar denyTime: how long a SENSOR service lists a client, in minutes
        (C{deny_time}; negative: for ever, 0: not at all).
    """

    serviceId: str
    limits: LimitRules
    onlyFrom: AddressList | None = None
    noAccess: AddressList | None = None
    libwrapName: str | None = None
    sensor: bool = False
    denyTime: int = 0
    #: No rule can refuse an address (the SENSOR list aside).
    unrestricted: bool = field(init=False)
    #: C{only_from} or C{no_access} may look at the client's name.
    listsNeedName: bool = field(init=False)

    def __post_init__(self) -> None:
        lists = (self.onlyFrom, self.noAccess)
        object.__setattr__(
            self,
            "unrestricted",
            lists == (None, None) and self.libwrapName is None and not self.sensor,
        )
        object.__setattr__(
            self,
            "listsNeedName",
            any(each is not None and each.needsReverseName for each in lists),
        )

    @classmethod
    def of(cls, config: ServiceConfig, hostsApply: bool) -> AdmissionRules:
        """
        The rules of a service's configuration.

        @param hostsApply: whether the daemon checks hosts.allow and
            hosts.deny at all.
        """
        libwrapName = None
        if hostsApply and Flag.NOLIBWRAP not in config.flags:
            libwrapName = libwrapDaemonName(
                config.libwrap,
                config.name,
                config.kind,
                Flag.NAMEINARGS in config.flags,
                config.server_args or (),
                config.server,
            )
        return cls(
            serviceId=config.id,
            limits=LimitRules(
                instances=config.instances,
                perSource=config.per_source,
                maxLoad=config.max_load,
                accessTimes=config.access_times or TimeIntervals(),
            ),
            onlyFrom=None if config.only_from is None else AddressList(config.only_from),
            noAccess=None if config.no_access is None else AddressList(config.no_access),
            libwrapName=libwrapName,
            sensor=config.kind is ServiceKind.SENSOR,
            denyTime=config.deny_time,
        )


def limitVerdict(
    rules: AdmissionRules,
    host: str | None,
    now: float,
    localTime: time.struct_time,
    cps: CpsLimiter,
    servers: RunningServers,
    load: LoadAverage,
    processes: ProcessLimit,
    explain: bool = False,
) -> Verdict:
    """
    The limits, in xinetd's order (see L{checkLimits}: the cps limiter
    counts the request).

    @param explain: whether to say which limit refused.
    """
    reason = checkLimits(rules.limits, host, now, localTime, cps, servers, load, processes)
    if reason is None:
        return ADMITTED
    messages: tuple[ProgramMessage, ...] = ()
    if reason is FailReason.LOAD:
        messages = (
            ProgramMessage(Level.ERROR, f"refused connect from {host} due to excessive load"),
        )
    explanation = None
    if explain:
        explanation = explainLimit(
            reason, rules.limits, host, localTime, cps, servers, load, processes
        )
    return Verdict(reason, messages, explanation)


def _excessiveLoad(host: str | None) -> ProgramMessage:
    return ProgramMessage(Level.ERROR, f"refused connect from {host} due to excessive load")


def addressVerdict(
    rules: AdmissionRules,
    host: str,
    name: str | None,
    paranoid: bool,
    hosts: HostsAccess | None,
    sensor: SensorList,
    now: float,
    explain: bool = False,
) -> Verdict:
    """
    The address rules, in xinetd's order: a SENSOR service refuses
    everyone; then the SENSOR list, C{only_from} and C{no_access}; then
    hosts.allow and hosts.deny.

    @param host: the client's address.
    @param name: its reverse name, if it was looked up.
    @param paranoid: whether that name does not map back to the address.
    @param hosts: the rules of hosts.allow and hosts.deny now (L{None}:
        they do not apply).
    @param sensor: the global SENSOR list.
    @param explain: whether to say which rule refused.
    """
    if rules.sensor:
        return Verdict(
            FailReason.ADDRESS, explanation="it touched a SENSOR service" if explain else None
        )
    if rules.onlyFrom is not None or rules.noAccess is not None or sensor:
        decision = decide(rules.serviceId, host, name, rules.onlyFrom, rules.noAccess, sensor, now)
        if not decision.allowed:
            messages = () if decision.message is None else (decision.message,)
            explanation = None
            if explain:
                explanation = explainAddress(
                    host, name, rules.onlyFrom, rules.noAccess, sensor, now
                )
            return Verdict(FailReason.ADDRESS, messages, explanation)
    if rules.libwrapName is not None and hosts is not None and hosts.hasRules:
        rule = hosts.decidingRule(rules.libwrapName, host, name, paranoid)
        if rule is not None and not rule.allows:
            refused = ProgramMessage(
                Level.INFO,
                f"libwrap refused connection to {rules.serviceId} "
                f"(libwrap={rules.libwrapName}) from {host}",
            )
            explanation = f"{rule.where}: {rule.text}" if explain else None
            return Verdict(FailReason.LIBWRAP, (refused,), explanation)
    return ADMITTED
