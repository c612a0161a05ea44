# -*- test-case-name: tests.core.test_explain -*-
"""
Why a client would be let in to a service, or refused, and by which rule
(C{--explain SERVICE ADDRESS [NAME] [--at HH:MM]}).  Pure: the verdict is
the daemon's own, from the functions its admission asks when a client
connects (L{txinetd.core.verdicts.limitVerdict} and
L{txinetd.core.verdicts.addressVerdict}, on the service's
L{AdmissionRules}), so the two cannot disagree; each kind of rule is then
asked alone, in the daemon's order, to say what it says of the client and
where it is written (C{path:line}).

The limits are asked as for the first client of a daemon that runs nothing:
C{access_times} decides, and a limit that refuses everyone
(C{instances = 0}); C{cps}, C{per_source}, C{max_load} and C{-limit}
depend on what runs and are not explained.  A name given with the address
is taken to map back to it (hosts.allow's C{PARANOID} does not refuse it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from enum import Enum

from txinetd.core.addressentries import AddressEntry
from txinetd.core.addresses import IPAddress, clientAddress
from txinetd.core.addresslists import describeEntry
from txinetd.core.config import ServiceConfig
from txinetd.core.events import FailReason
from txinetd.core.libwrap import HostsAccess
from txinetd.core.limits import CpsLimiter, LoadAverage, ProcessLimit, RunningServers
from txinetd.core.sensor import SensorList
from txinetd.core.verdicts import AdmissionRules, Verdict, addressVerdict, limitVerdict

__all__ = ["Explanation", "Rule", "Step", "explainClient", "parseClock"]


class Rule(Enum):
    """
    The kinds of rule a client meets, in the daemon's order.
    """

    PROXY = "proxy_from"
    ACCESS_TIMES = "access_times"
    LIMITS = "limits"
    SENSOR = "SENSOR"
    ADDRESS_LISTS = "only_from/no_access"
    LIBWRAP = "hosts.allow/hosts.deny"


@dataclass(frozen=True)
class Step:
    """
    What one kind of rule says of a client.

    @ivar rule: which kind.
    @ivar admits: whether it lets the client through.
    @ivar text: why, with the C{path:line} of what decided.
    @ivar reason: the C{FAIL} reason word of a refusal.
    """

    rule: Rule
    admits: bool
    text: str
    reason: FailReason | None = None


@dataclass(frozen=True)
class Explanation:
    """
    What the daemon would decide for a client, and what every rule of the
    service says of it.

    @ivar config: the service.
    @ivar steps: each kind of rule's verdict, in the daemon's order.
    @ivar reason: the C{FAIL} reason word the daemon would log, or L{None}:
        it would let the client in.
    """

    config: ServiceConfig
    steps: tuple[Step, ...]
    reason: FailReason | None

    @property
    def decided(self) -> Step | None:
        """
        The step that refuses the client (the first refusal in the daemon's
        order), or L{None} if it is let in.
        """
        if self.reason is None:
            return None
        for step in self.steps:
            if not step.admits and step.reason is self.reason:
                return step
        return None

    @property
    def admits(self) -> bool:
        """
        Whether the client would be let in.
        """
        return self.reason is None

    def lines(self) -> list[str]:
        """
        The explanation as text: a verdict line, then one line per rule.
        """
        config = self.config
        decided = self.decided
        reason = self.reason
        verdict = "admitted" if reason is None else f"refused (FAIL {reason.value})"
        place = "" if config.place is None else f" ({config.place})"
        found = [f"{config.id}{place}: {verdict}"]
        for step in self.steps:
            mark = "refuses" if not step.admits else "admits"
            decides = " <- decides" if step is decided else ""
            found.append(f"  {step.rule.value}: {mark}: {step.text}{decides}")
        return found


def parseClock(text: str) -> tuple[int, int]:
    """
    C{HH:MM} as an hour and a minute.

    @raise ValueError: if it is not a time of day.
    """
    hour, sep, minute = text.partition(":")
    if sep and hour.isdigit() and minute.isdigit() and len(minute) == 2:
        h, m = int(hour), int(minute)
        if h < 24 and m < 60:
            return h, m
    raise ValueError(f"{text}: a time of day is needed, HH:MM (00:00 to 23:59)")


def _where(config: ServiceConfig, attribute: str, item: AddressEntry | None = None) -> str:
    location = config.origins.of(attribute, item)
    return "" if location is None else f" ({location})"


def _atClock(clock: tuple[int, int]) -> time.struct_time:
    """
    A local time at C{clock}, for L{limitVerdict} (only its hour and minute
    are read).
    """
    return time.struct_time((2000, 1, 1, clock[0], clock[1], 0, 5, 1, -1))


def _limits(rules: AdmissionRules, host: str, now: float, clock: tuple[int, int]) -> Verdict:
    """
    The limit verdict for the first client of a daemon that runs nothing.
    """
    processes = ProcessLimit(None)
    return limitVerdict(
        rules,
        host,
        now,
        _atClock(clock),
        CpsLimiter(0),
        RunningServers(processes),
        LoadAverage(lambda: -1.0),
        processes,
        explain=True,
    )


def _proxy(config: ServiceConfig, client: IPAddress) -> Step:
    """
    What a service behind the PROXY protocol does with a connection from
    C{client} itself.  It never decides: the other rules are asked of the
    client a header names, taken to be C{client}.
    """
    assert config.proxy is not None
    where = _where(config, "proxy_from")
    if config.proxy.trusts(str(client)):
        return Step(
            Rule.PROXY,
            True,
            f"{client} may send a PROXY header{where}: a connection from it is served as the "
            f"client its header names; the rules below are asked of {client} as such a client",
        )
    return Step(
        Rule.PROXY,
        False,
        f"a connection from {client} itself is refused (FAIL proxy): not in proxy_from{where}; "
        f"the rules below are asked of {client} as the client a balancer's header names",
        FailReason.PROXY,
    )


def _accessTimes(
    config: ServiceConfig, rules: AdmissionRules, host: str, now: float, clock: tuple[int, int]
) -> Step:
    shown = f"{clock[0]:02d}:{clock[1]:02d}"
    if config.access_times is None:
        return Step(Rule.ACCESS_TIMES, True, "no access_times: any time of day")
    window = rules.limits.accessTimes
    timeOnly = replace(rules, limits=replace(rules.limits, instances=None, perSource=None))
    where = _where(config, "access_times")
    if _limits(timeOnly, host, now, clock).reason is None:
        return Step(Rule.ACCESS_TIMES, True, f"{shown} is within {window}{where}")
    return Step(
        Rule.ACCESS_TIMES,
        False,
        f"{shown} is outside access_times = {window}{where}",
        FailReason.TIME,
    )


def _sensor(
    config: ServiceConfig,
    rules: AdmissionRules,
    client: IPAddress,
    sensor: SensorList | None,
    now: float,
) -> Step:
    alone = replace(rules, onlyFrom=None, noAccess=None, libwrapName=None)
    listed = SensorList() if sensor is None else sensor
    verdict = addressVerdict(alone, str(client), None, False, None, listed, now)
    if rules.sensor:
        return Step(
            Rule.SENSOR,
            verdict.reason is None,
            f"a SENSOR service{_where(config, 'flags')}: a client that touches it is "
            "refused and put on the SENSOR list",
            verdict.reason,
        )
    if verdict.reason is not None:
        return Step(Rule.SENSOR, False, f"{client} is on the SENSOR list", verdict.reason)
    if sensor is None:
        return Step(
            Rule.SENSOR,
            True,
            "not a SENSOR service (the running daemon's SENSOR list is in its /status)",
        )
    return Step(Rule.SENSOR, True, f"{client} is not on the SENSOR list")


def _entryText(config: ServiceConfig, attribute: str, entry: AddressEntry) -> str:
    return f"{attribute} entry {describeEntry(entry)}{_where(config, attribute, entry)}"


def _addressLists(
    config: ServiceConfig, rules: AdmissionRules, client: IPAddress, name: str | None, now: float
) -> Step:
    onlyFrom, noAccess = rules.onlyFrom, rules.noAccess
    alone = replace(rules, sensor=False, libwrapName=None)
    reason = addressVerdict(alone, str(client), name, False, None, SensorList(), now).reason
    admits = reason is None
    if onlyFrom is None and noAccess is None:
        return Step(Rule.ADDRESS_LISTS, admits, "neither only_from nor no_access is set", reason)
    allow = None if onlyFrom is None else onlyFrom.matchingEntry(client, name)
    deny = None if noAccess is None else noAccess.matchingEntry(client, name)
    if onlyFrom is not None and noAccess is not None and allow is not None and deny is not None:
        allowText = _entryText(config, "only_from", allow)
        denyText = _entryText(config, "no_access", deny)
        if onlyFrom.bestMatch(client, name) == noAccess.bestMatch(client, name):
            text = f"{allowText} and {denyText} match {client} equally: a tie refuses"
        elif admits:
            text = f"{allowText} is more specific than {denyText}, which it beats"
        else:
            text = f"{denyText} is more specific than {allowText}, which it beats"
        return Step(Rule.ADDRESS_LISTS, admits, text, reason)
    if deny is not None:
        return Step(Rule.ADDRESS_LISTS, admits, _entryText(config, "no_access", deny), reason)
    if allow is not None:
        return Step(Rule.ADDRESS_LISTS, admits, _entryText(config, "only_from", allow), reason)
    named = "" if name is None else f" (named {name})"
    if onlyFrom is not None and not onlyFrom.entries:
        text = f"only_from is empty{_where(config, 'only_from')}: it admits no one"
    elif onlyFrom is not None:
        text = f"no only_from entry{_where(config, 'only_from')} matches {client}{named}"
    else:
        text = f"no no_access entry{_where(config, 'no_access')} matches {client}{named}"
    return Step(Rule.ADDRESS_LISTS, admits, text, reason)


def _libwrap(
    rules: AdmissionRules,
    client: IPAddress,
    name: str | None,
    hosts: HostsAccess | None,
    now: float,
) -> Step:
    daemon = rules.libwrapName
    if hosts is None:
        return Step(Rule.LIBWRAP, True, "hosts.allow and hosts.deny are not used")
    if daemon is None:
        return Step(Rule.LIBWRAP, True, "flags = NOLIBWRAP: hosts.allow and hosts.deny not read")
    alone = replace(rules, sensor=False, onlyFrom=None, noAccess=None)
    reason = addressVerdict(alone, str(client), name, False, hosts, SensorList(), now).reason
    rule = hosts.decidingRule(daemon, client, name)
    if rule is None:
        return Step(Rule.LIBWRAP, reason is None, f"no rule for daemon {daemon} matches {client}")
    verdict = "allows" if rule.allows else "denies"
    text = f"{rule.where}: {rule.text} ({verdict}, daemon {daemon})"
    return Step(Rule.LIBWRAP, reason is None, text, reason)


def explainClient(
    config: ServiceConfig,
    address: str | IPAddress,
    name: str | None = None,
    clock: tuple[int, int] | None = None,
    hosts: HostsAccess | None = None,
    sensor: SensorList | None = None,
    now: float | None = None,
) -> Explanation:
    """
    What the daemon would decide for a client of a service, and what each
    kind of rule says of it.

    @param address: the client's address.
    @param name: the client's (reverse-mapped) name, for name and domain
        entries and hosts.allow patterns; L{None}: it has none.
    @param clock: the local time of day (hour, minute), by default C{now}'s.
    @param hosts: hosts.allow and hosts.deny; L{None}: not used.
    @param sensor: the SENSOR list, if one is known.
    @param now: the POSIX time (default: the time now).
    @raise ValueError: if C{address} is not an IP address.
    """
    client = clientAddress(address)
    host = str(client)
    when = time.time() if now is None else now
    if clock is None:
        local = time.localtime(when)
        clock = (local.tm_hour, local.tm_min)
    rules = AdmissionRules.of(config, hosts is not None)
    listed = SensorList() if sensor is None else sensor
    # The daemon's verdict, in its order: the limits, then the address.
    limits = _limits(rules, host, when, clock)
    reason = limits.reason
    if reason is None:
        reason = addressVerdict(rules, host, name, False, hosts, listed, when).reason
    steps = [] if config.proxy is None else [_proxy(config, client)]
    steps.append(_accessTimes(config, rules, host, when, clock))
    if limits.reason not in (None, FailReason.TIME):
        steps.append(Step(Rule.LIMITS, False, f"{limits.explanation}", limits.reason))
    steps += [
        _sensor(config, rules, client, sensor, when),
        _addressLists(config, rules, client, name, when),
        _libwrap(rules, client, name, hosts, when),
    ]
    return Explanation(config, tuple(steps), reason)
