# -*- test-case-name: tests.core.test_attributes -*-
"""
THE attribute table: every attribute of xinetd 2.3.15, its arity, where it
may appear and the converter (L{txinetd.core.converters}) that turns its value
tokens into a typed value (L{txinetd.core.values}).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from txinetd.core.converters import (
    PROXY_VERSIONS,
    atLeastOne,
    convertAccessTimes,
    convertAddresses,
    convertBind,
    convertCps,
    convertDenyTime,
    convertEnv,
    convertGroup,
    convertListen,
    convertLogType,
    convertMaxLoad,
    convertNice,
    convertPassenv,
    convertPort,
    convertProtocol,
    convertProxyTimeout,
    convertRedirect,
    convertRpcNumber,
    convertRpcVersion,
    convertServer,
    convertUmask,
    convertUser,
    counted,
    enumSet,
    keyword,
    rlimit,
    word,
    words,
    yesNo,
)
from txinetd.core.proxyprotocol import ConnectionEnv, ProxyLocal, ProxyVersion
from txinetd.core.values import Converter, FailureFlag, Flag, ServiceType, SocketType, SuccessFlag


class Arity(enum.Enum):
    """
    How many values an attribute takes and how operators apply (section 2.5).

    @cvar FIXED: exactly L{AttributeSpec.count} values, C{=} only, the
        first setting wins.
    @cvar VARIABLE: any number of values, C{=} only, the first setting wins.
    @cvar LIST: a modifiable list: C{=}, C{+=}, C{-=}.
    """

    FIXED = "fixed"
    VARIABLE = "variable"
    LIST = "list"


class Where(enum.Flag):
    """
    Where an attribute may appear.
    """

    SERVICE = enum.auto()
    DEFAULTS = enum.auto()
    BOTH = SERVICE | DEFAULTS


@dataclass(frozen=True)
class AttributeSpec:
    """
    One row of the attribute table.

    @ivar name: the attribute's name.
    @ivar arity: see L{Arity}.
    @ivar where: see L{Where}.
    @ivar convert: the converter.
    @ivar count: the value count of a L{Arity.FIXED} attribute.
    @ivar removable: whether C{-=} is allowed (list attributes).
    @ivar status: what txinetd does with it, for the README's table.
    """

    name: str
    arity: Arity
    where: Where
    convert: Converter
    count: int = 1
    removable: bool = True


# --- the table -------------------------------------------------------------

_S, _D, _B = Where.SERVICE, Where.DEFAULTS, Where.BOTH
_FIXED, _VAR, _LIST = Arity.FIXED, Arity.VARIABLE, Arity.LIST

ATTRIBUTES: Mapping[str, AttributeSpec] = {
    spec.name: spec
    for spec in [
        AttributeSpec("id", _FIXED, _S, word),
        AttributeSpec(
            "type", _VAR, _S, atLeastOne("type", enumSet(ServiceType, "Bad service type: {}"))
        ),
        AttributeSpec(
            "flags", _VAR, _S, atLeastOne("flags", enumSet(Flag, "Bad service flag: {}"))
        ),
        AttributeSpec(
            "socket_type",
            _FIXED,
            _S,
            keyword({t.value: t for t in SocketType}, "Bad socket type: {}"),
        ),
        AttributeSpec("protocol", _FIXED, _S, convertProtocol),
        AttributeSpec("wait", _FIXED, _S, yesNo("Bad value for wait: {}")),
        AttributeSpec("user", _FIXED, _S, convertUser),
        AttributeSpec("group", _FIXED, _S, convertGroup),
        AttributeSpec("groups", _FIXED, _B, yesNo("Bad value for groups: {}")),
        AttributeSpec("server", _FIXED, _S, convertServer),
        AttributeSpec("server_args", _VAR, _S, atLeastOne("server_args", words)),
        AttributeSpec("instances", _FIXED, _B, counted("Number of instances is invalid: {}")),
        AttributeSpec(
            "per_source", _FIXED, _B, counted("Number of per source instances is invalid: {}")
        ),
        AttributeSpec("cps", _FIXED, _B, convertCps, count=2),
        AttributeSpec("max_load", _FIXED, _B, convertMaxLoad),
        AttributeSpec("nice", _FIXED, _S, convertNice),
        AttributeSpec("umask", _FIXED, _B, convertUmask),
        AttributeSpec("env", _LIST, _S, convertEnv, removable=False),
        AttributeSpec("passenv", _LIST, _B, convertPassenv),
        AttributeSpec("port", _FIXED, _S, convertPort),
        AttributeSpec("redirect", _FIXED, _S, convertRedirect, count=2),
        AttributeSpec("bind", _FIXED, _B, convertBind),
        AttributeSpec("v6only", _FIXED, _B, yesNo("Bad value for v6only: {}")),
        AttributeSpec("banner", _FIXED, _B, word),
        AttributeSpec("banner_success", _FIXED, _B, word),
        AttributeSpec("banner_fail", _FIXED, _B, word),
        AttributeSpec("access_times", _VAR, _S, atLeastOne("access_times", convertAccessTimes)),
        AttributeSpec("only_from", _LIST, _B, convertAddresses),
        AttributeSpec("no_access", _LIST, _B, convertAddresses),
        AttributeSpec("log_type", _VAR, _B, convertLogType),
        AttributeSpec(
            "log_on_success", _LIST, _B, enumSet(SuccessFlag, "Bad log_on_success flag: {}")
        ),
        AttributeSpec(
            "log_on_failure",
            _LIST,
            _B,
            enumSet(FailureFlag, "Bad log_on_failure flag: {}", {"RECORD": None}),
        ),
        AttributeSpec("rpc_version", _FIXED, _S, convertRpcVersion),
        AttributeSpec("rpc_number", _FIXED, _S, convertRpcNumber),
        AttributeSpec("libwrap", _FIXED, _S, word),
        AttributeSpec("deny_time", _FIXED, _S, convertDenyTime),
        AttributeSpec("disable", _FIXED, _S, yesNo("Bad value: {}")),
        AttributeSpec("disabled", _LIST, _D, words),
        AttributeSpec("enabled", _LIST, _D, words),
        AttributeSpec("rlimit_as", _FIXED, _S, rlimit("Address space limit is invalid: {}")),
        AttributeSpec("rlimit_cpu", _FIXED, _S, rlimit("CPU limit is invalid: {}", False)),
        AttributeSpec("rlimit_data", _FIXED, _S, rlimit("Data limit is invalid: {}")),
        AttributeSpec("rlimit_rss", _FIXED, _S, rlimit("RSS limit is invalid: {}")),
        AttributeSpec("rlimit_stack", _FIXED, _S, rlimit("Stack limit is invalid: {}")),
        AttributeSpec("rlimit_files", _FIXED, _S, rlimit("Max files limit is invalid: {}")),
        # txinetd's own: endpoints and TLS (none of them is an xinetd name).
        AttributeSpec("listen", _FIXED, _S, convertListen),
        AttributeSpec("tls_certificate", _FIXED, _S, word),
        AttributeSpec("tls_key", _FIXED, _S, word),
        AttributeSpec("tls_chain", _FIXED, _S, word),
        AttributeSpec("tls_client_ca", _FIXED, _S, word),
        AttributeSpec(
            "tls_client_cert",
            _FIXED,
            _S,
            keyword({"required": True, "optional": False}, "Bad value for tls_client_cert: {}"),
        ),
        AttributeSpec("redirect_tls", _FIXED, _S, yesNo("Bad value for redirect_tls: {}")),
        AttributeSpec("redirect_tls_name", _FIXED, _S, word),
        AttributeSpec("redirect_tls_ca", _FIXED, _S, word),
        # txinetd's own: the PROXY protocol and the connection environments.
        AttributeSpec(
            "proxy_protocol",
            _VAR,
            _S,
            atLeastOne(
                "proxy_protocol",
                enumSet(ProxyVersion, "Bad value for proxy_protocol: {}", None, PROXY_VERSIONS),
            ),
        ),
        AttributeSpec("proxy_from", _LIST, _S, convertAddresses),
        AttributeSpec(
            "proxy_local",
            _FIXED,
            _S,
            keyword({p.value: p for p in ProxyLocal}, "Bad value for proxy_local: {}"),
        ),
        AttributeSpec("proxy_timeout", _FIXED, _S, convertProxyTimeout),
        AttributeSpec(
            "redirect_proxy",
            _FIXED,
            _S,
            keyword(PROXY_VERSIONS, "Bad value for redirect_proxy: {}"),
        ),
        AttributeSpec(
            "connection_env",
            _VAR,
            _S,
            atLeastOne(
                "connection_env", enumSet(ConnectionEnv, "Bad value for connection_env: {}")
            ),
        ),
    ]
}


#: C{interface} is another name for C{bind}.
ALIASES: Mapping[str, str] = {"interface": "bind"}
ATTRIBUTES = {**ATTRIBUTES, **{alias: ATTRIBUTES[name] for alias, name in ALIASES.items()}}
