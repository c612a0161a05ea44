# -*- test-case-name: tests.core.test_attributes -*-
"""
The converters of xinetd's attribute values: each takes the value tokens and
a L{ConvertContext} and returns the typed value, or raises L{BadValue} with
xinetd's message(s).  For list attributes (C{only_from}, C{log_on_success}...)
a converter returns a tuple of items and L{txinetd.core.inheritance} applies
the operator.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import math
import resource
from collections.abc import Mapping, Sequence
from typing import Any

from txinetd.core.addressentries import AccessParseError, AddressEntry, parseAddressToken
from txinetd.core.diagnostics import didYouMean
from txinetd.core.endpoint import Listen, ListenError, parseListen
from txinetd.core.logformat import SYSLOG_FACILITIES, SYSLOG_LEVELS, defaultHardLimit
from txinetd.core.numbers import (
    INT_MAX,
    INT_MIN,
    MAX_ID,
    idNumber,
    isNumericId,
    parseInteger,
    parsePort,
    parseSize,
)
from txinetd.core.proxyprotocol import ProxyVersion
from txinetd.core.times import TimeIntervals, parseAccessTimes
from txinetd.core.values import (
    FOREVER,
    UNLIMITED,
    BadValue,
    ConvertContext,
    Converter,
    CpsSpec,
    EnvEntry,
    GroupSpec,
    HostSpec,
    LogKind,
    LogSpec,
    RedirectSpec,
    UserSpec,
)

# --- converter helpers -----------------------------------------------------


def keyword(table: Mapping[str, Any], message: str) -> Converter:
    """
    A converter for one case-insensitive keyword.
    """
    lowered = {key.lower(): value for key, value in table.items()}

    def convert(tokens: Sequence[str], context: ConvertContext) -> Any:
        try:
            return lowered[tokens[0].lower()]
        except KeyError:
            raise BadValue(message.format(tokens[0]) + didYouMean(tokens[0], table)) from None

    return convert


def yesNo(message: str) -> Converter:
    return keyword({"yes": True, "no": False}, message)


def enumSet(
    kind: type[enum.Enum],
    message: str,
    extra: Mapping[str, None] | None = None,
    words: Mapping[str, enum.Enum] | None = None,
) -> Converter:
    """
    A converter for a set of case-insensitive enum keywords.  C{extra} maps
    further accepted words to L{None} (accepted and dropped); C{words}, if
    given, are the keywords instead of the members' values.
    """
    if words is None:
        words = {member.value: member for member in kind}
    table: dict[str, Any] = {word.lower(): member for word, member in words.items()}
    table.update({key.lower(): value for key, value in (extra or {}).items()})
    names = list(words)

    def convert(tokens: Sequence[str], context: ConvertContext) -> tuple[Any, ...]:
        items = []
        for token in tokens:
            try:
                member = table[token.lower()]
            except KeyError:
                raise BadValue(message.format(token) + didYouMean(token, names)) from None
            if member is None:
                context.warn(f"{token} is obsolete and has no effect")
            else:
                items.append(member)
        return tuple(items)

    return convert


def atLeastOne(name: str, convert: Converter) -> Converter:
    def check(tokens: Sequence[str], context: ConvertContext) -> Any:
        if not tokens:
            raise BadValue(f"attribute {name} expects at least 1 value and none was given.")
        return convert(tokens, context)

    return check


def counted(message: str) -> Converter:
    """
    A converter for C{instances}-like values: C{UNLIMITED} (L{None}) or an
    integer >= 0.
    """

    def convert(tokens: Sequence[str], context: ConvertContext) -> int | None:
        token = tokens[0]
        if token.upper() == "UNLIMITED":
            return UNLIMITED
        try:
            value = parseInteger(token)
        except ValueError:
            raise BadValue(message.format(token)) from None
        if value < 0:
            raise BadValue(message.format(token))
        return value

    return convert


def convertProxyTimeout(tokens: Sequence[str], context: ConvertContext) -> int:
    """
    C{proxy_timeout}: seconds, at least 1 and at most an hour.
    """
    try:
        value = parseInteger(tokens[0])
    except ValueError:
        value = 0
    if not 1 <= value <= 3600:
        raise BadValue(f"Bad value for proxy_timeout: {tokens[0]} (1 to 3600 seconds)")
    return value


#: The PROXY protocol versions, as C{proxy_protocol} and C{redirect_proxy} name them.
PROXY_VERSIONS = {"v1": ProxyVersion.V1, "v2": ProxyVersion.V2}


def rlimit(message: str, allowSuffix: bool = True) -> Converter:
    """
    A converter for C{rlimit_*}: C{UNLIMITED} or a size; 0 means not set.
    """

    def convert(tokens: Sequence[str], context: ConvertContext) -> int | None:
        token = tokens[0]
        if token.upper() == "UNLIMITED":
            return resource.RLIM_INFINITY
        try:
            value = parseSize(token, allowSuffix)
        except ValueError:
            raise BadValue(message.format(token)) from None
        return value or None

    return convert


@functools.lru_cache(maxsize=4096)
def _literalAddress(text: str) -> str | None:
    """
    The address C{text} writes literally, in its usual form, or L{None} if
    it is no address (a services file repeats the same C{bind}).
    """
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _resolveHost(text: str, context: ConvertContext) -> HostSpec:
    address = _literalAddress(text)
    if address is not None:
        return HostSpec(text, (address,))
    if ":" in text:
        raise BadValue("bad address")
    addresses = context.system.resolveHost(text)
    if not addresses:
        raise BadValue("no addresses returned")
    return HostSpec(text, tuple(addresses))


# --- converters ------------------------------------------------------------


def convertUser(tokens: Sequence[str], context: ConvertContext) -> UserSpec:
    """
    C{user}: a name, or an all-digit uid whose gid is the same number.
    """
    name = tokens[0]
    if isNumericId(name):
        number = idNumber(name)
        if number > MAX_ID:
            raise BadValue(f"Error parsing user as a number: {name}")
        return UserSpec(name, number, number)
    found = context.system.userByName(name)
    if found is None:
        raise BadValue(f"Unknown user: {name}")
    return UserSpec(name, *found)


def convertGroup(tokens: Sequence[str], context: ConvertContext) -> GroupSpec:
    """
    C{group}: a name or an all-digit gid.
    """
    name = tokens[0]
    if isNumericId(name):
        number = idNumber(name)
        if number > MAX_ID:
            raise BadValue(f"Error parsing group as a number: {name}")
        return GroupSpec(name, number)
    gid = context.system.groupByName(name)
    if gid is None:
        raise BadValue(f"Unknown group: {name}")
    return GroupSpec(name, gid)


def convertProtocol(tokens: Sequence[str], context: ConvertContext) -> str:
    """
    C{protocol}: a name from /etc/protocols, kept in lower case.
    """
    name = tokens[0]
    if context.system.protocolByName(name.lower()) is None:
        raise BadValue(f"Protocol {name} not in /etc/protocols")
    return name.lower()


def convertServer(tokens: Sequence[str], context: ConvertContext) -> str:
    """
    C{server}: a path that must exist and be executable now.
    """
    path = tokens[0]
    problem = context.system.checkExecutable(path)
    if problem is not None:
        raise BadValue(problem)
    return path


def convertCps(tokens: Sequence[str], context: ConvertContext) -> CpsSpec:
    """
    C{cps = max wait}.
    """
    try:
        limit = parseInteger(tokens[0])
    except ValueError:
        raise BadValue("cps argument not a number") from None
    try:
        wait = parseInteger(tokens[1])
    except ValueError:
        raise BadValue("cps time argument not a number") from None
    if limit < 0 or wait < 0:
        raise BadValue("cps arguments invalid")
    return CpsSpec(limit, wait)


def convertMaxLoad(tokens: Sequence[str], context: ConvertContext) -> float:
    """
    C{max_load}: a non-zero number.
    """
    try:
        value = float(tokens[0])
    except ValueError:
        raise BadValue("error reading max_load argument") from None
    if value == 0 or not math.isfinite(value):
        raise BadValue("error parsing max_load argument")
    return value


def convertNice(tokens: Sequence[str], context: ConvertContext) -> int:
    """
    C{nice}: an integer that C{nice()} takes (a C int); the kernel clamps
    the niceness it gives to -20..19.
    """
    try:
        value = parseInteger(tokens[0])
    except ValueError:
        value = None
    if value is None or not INT_MIN <= value <= INT_MAX:
        raise BadValue(f"Error parsing: {tokens[0]}")
    return value


def convertUmask(tokens: Sequence[str], context: ConvertContext) -> int:
    """
    C{umask}: octal, 0 to 0777.
    """
    try:
        value = parseInteger(tokens[0], 8)
    except ValueError:
        raise BadValue("umask argument is invalid.") from None
    if not 0 <= value <= 0o777:
        raise BadValue("umask argument is invalid.")
    return value


def convertEnv(tokens: Sequence[str], context: ConvertContext) -> tuple[EnvEntry, ...]:
    """
    C{env}: C{NAME=value} tokens.
    """
    entries = []
    for token in tokens:
        name, equals, value = token.partition("=")
        if not equals:
            raise BadValue(f"{token} has no '='")
        entries.append(EnvEntry(name, value))
    return tuple(entries)


def convertPassenv(tokens: Sequence[str], context: ConvertContext) -> tuple[str, ...]:
    """
    C{passenv}: names of variables of the daemon's environment; unknown
    names are warned about and dropped.
    """
    names = []
    for token in tokens:
        if token in context.system.environ:
            names.append(token)
        else:
            context.warn(f"undefined environment variable: {token}")
    return tuple(names)


def convertPort(tokens: Sequence[str], context: ConvertContext) -> int:
    """
    C{port}.
    """
    try:
        return parsePort(tokens[0])
    except ValueError:
        raise BadValue("port number is invalid") from None


def convertRedirect(tokens: Sequence[str], context: ConvertContext) -> RedirectSpec:
    """
    C{redirect = host port}: the port may be a tcp service name (anything
    that is not a positive number is looked up as one).
    """
    portText = tokens[1]
    try:
        port = parseInteger(portText)
    except ValueError:
        port = 0
    if port <= 0:
        found = context.system.portByName(portText, "tcp")
        if found is None:
            raise BadValue("port number invalid")
        port = found
    if port > 65535:
        raise BadValue("port number too large")
    return RedirectSpec(_resolveHost(tokens[0], context), port)


def convertBind(tokens: Sequence[str], context: ConvertContext) -> HostSpec:
    """
    C{bind} / C{interface}: an address or a host name resolved now.
    """
    return _resolveHost(tokens[0], context)


def convertAccessTimes(tokens: Sequence[str], context: ConvertContext) -> TimeIntervals:
    """
    C{access_times}: C{H:MM-H:MM} intervals, start strictly before end.
    """
    try:
        return parseAccessTimes(tokens)
    except AccessParseError as e:
        raise BadValue(e.message) from None


def convertAddresses(tokens: Sequence[str], context: ConvertContext) -> tuple[AddressEntry, ...]:
    """
    C{only_from} / C{no_access}: address entries (section 4.1).  A token that
    is no address form is dropped with a warning; the attribute stays set.
    """
    entries: list[AddressEntry] = []
    for token in tokens:
        try:
            result = parseAddressToken(token, context.system.resolveHost, context.system.networks)
        except AccessParseError as e:
            raise BadValue(e.message) from None
        entries.extend(result.entries)
        for message in result.messages:
            context.warn(message)
    return tuple(entries)


def convertLogType(tokens: Sequence[str], context: ConvertContext) -> LogSpec:
    """
    C{log_type = FILE path [soft [hard]]} or C{SYSLOG facility [level]}.
    """
    kind = tokens[0].upper() if tokens else ""
    if kind == "FILE":
        return _fileLog(tokens[1:])
    if kind == "SYSLOG":
        return _syslogLog(tokens[1:])
    if not tokens:
        raise BadValue("attribute log_type expects at least 1 value and none was given.")
    raise BadValue(
        f"Unknown log type: {tokens[0]}" + didYouMean(tokens[0], [k.value for k in LogKind])
    )


def _fileLog(arguments: Sequence[str]) -> LogSpec:
    if not 1 <= len(arguments) <= 3:
        raise BadValue("wrong number of arguments")
    soft = hard = None
    if len(arguments) >= 2:
        try:
            soft = parseSize(arguments[1])
        except ValueError:
            raise BadValue("soft limit is invalid") from None
        hard = defaultHardLimit(soft)
    if len(arguments) == 3:
        try:
            hard = parseSize(arguments[2])
        except ValueError:
            raise BadValue("hard limit is invalid") from None
        assert soft is not None
        if hard < soft:
            raise BadValue(f"hard limit ({hard}) is less than soft limit ({soft})")
    return LogSpec(LogKind.FILE, path=arguments[0], soft=soft, hard=hard)


def _syslogLog(arguments: Sequence[str]) -> LogSpec:
    if not 1 <= len(arguments) <= 2:
        raise BadValue("wrong number of arguments")
    facility = arguments[0].lower()
    if facility not in SYSLOG_FACILITIES:
        raise BadValue(
            f"Unknown syslog facility: {arguments[0]}" + didYouMean(arguments[0], SYSLOG_FACILITIES)
        )
    level = "info"
    if len(arguments) == 2:
        level = arguments[1].lower()
        if level not in SYSLOG_LEVELS:
            raise BadValue(
                f"Unknown syslog level: {arguments[1]}" + didYouMean(arguments[1], SYSLOG_LEVELS)
            )
    return LogSpec(LogKind.SYSLOG, facility=facility, level=level)


#: RPC program and version numbers are 32-bit unsigned on the wire.
MAX_RPC = 2**32 - 1
#: At most this many versions in one C{rpc_version} range: each is a
#: registration with the portmapper.
MAX_RPC_VERSIONS = 1024


def convertRpcVersion(tokens: Sequence[str], context: ConvertContext) -> tuple[int, int]:
    """
    C{rpc_version = N} or C{N-M}.
    """
    low, dash, high = tokens[0].partition("-")
    try:
        first = parseInteger(low)
        last = parseInteger(high) if dash else first
    except ValueError:
        raise BadValue(f"bad version range: {tokens[0]}") from None
    if not 0 <= first <= last <= MAX_RPC or last - first >= MAX_RPC_VERSIONS:
        raise BadValue(f"bad version range: {tokens[0]}")
    return first, last


def convertRpcNumber(tokens: Sequence[str], context: ConvertContext) -> int:
    """
    C{rpc_number}.
    """
    try:
        value = parseInteger(tokens[0])
    except ValueError:
        raise BadValue(f"Error parsing: {tokens[0]}") from None
    if not 0 <= value <= MAX_RPC:
        raise BadValue(f"Error parsing: {tokens[0]}")
    return value


def convertDenyTime(tokens: Sequence[str], context: ConvertContext) -> int:
    """
    C{deny_time}: minutes, C{FOREVER} (L{FOREVER}) or C{NEVER} (0).
    """
    token = tokens[0]
    if token.upper() == "FOREVER":
        return FOREVER
    if token.upper() == "NEVER":
        return 0
    try:
        value = parseInteger(token)
    except ValueError:
        raise BadValue(f"Error parsing: {token}") from None
    if value < 0:
        raise BadValue(f"Error parsing: {token}")
    return value


def convertListen(tokens: Sequence[str], context: ConvertContext) -> Listen:
    """
    C{listen = <Twisted endpoint description>}.
    """
    try:
        spec, keys = parseListen(tokens[0])
    except ListenError as e:
        raise BadValue(f"Bad listen description {tokens[0]}: {e}") from None
    return Listen(spec, keys)


def word(tokens: Sequence[str], context: ConvertContext) -> str:
    return tokens[0]


def words(tokens: Sequence[str], context: ConvertContext) -> tuple[str, ...]:
    return tuple(tokens)
