# -*- test-case-name: tests.core.test_endpoint,tests.core.test_config_endpoint -*-
"""
C{listen = <description>}: where a service listens, written as a Twisted
server endpoint description instead of C{port} and C{bind}; and the TLS
settings of a service, in front of it and towards its redirect target
(L{TLSSettings}, L{RedirectTLS}, checked by L{fillTLSValues}).

The descriptions are Twisted's (C{type:positional:key=value}, with C{\\}
escaping a C{:} or C{=}) for the endpoint types that a super-server can
own the socket of:

  - C{tcp:PORT[:interface=ADDRESS][:backlog=N]} and C{tcp6:...};
  - C{ssl:PORT:privateKey=FILE[:certKey=FILE][:extraCertChain=FILE]
    [:interface=ADDRESS][:backlog=N]}: TCP with TLS (the same as C{tcp:}
    plus the C{tls_*} attributes);
  - C{unix:PATH[:mode=OCTAL][:backlog=N][:lockfile=0|1]};
  - C{systemd:name=NAME} or C{systemd:index=N}, with an optional
    C{domain=INET|INET6|UNIX}: a socket systemd passed (C{LISTEN_FDS}).

txinetd still accepts every connection itself, so that access control,
limits, banners, logging and reconfiguration apply as for C{port}.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Listen",
    "ListenError",
    "ListenSpec",
    "RedirectTLS",
    "SystemdListen",
    "TCPListen",
    "TLSKeys",
    "TLSSettings",
    "UNIXListen",
    "fillTLSValues",
    "parseListen",
    "splitDescription",
]

#: Permissions of a UNIX socket without C{mode}, as Twisted's default.
DEFAULT_UNIX_MODE = 0o666
SYSTEMD_DOMAINS = {"INET": socket.AF_INET, "INET6": socket.AF_INET6, "UNIX": socket.AF_UNIX}


class ListenError(ValueError):
    """
    A description that txinetd cannot listen on; the message says why.
    """


@dataclass(frozen=True)
class TCPListen:
    """
    C{tcp:}, C{tcp6:} or C{ssl:}: a TCP port txinetd binds.

    @ivar interface: the address to bind, or L{None} for every address of
        the family.
    @ivar ipv6: whether the socket is IPv6 (C{tcp6:}, or an IPv6
        C{interface}).
    """

    text: str
    port: int
    interface: str | None
    backlog: int | None
    ipv6: bool


@dataclass(frozen=True)
class UNIXListen:
    """
    C{unix:}: a UNIX stream socket at C{path}.
    """

    text: str
    path: str
    mode: int
    backlog: int | None


@dataclass(frozen=True)
class SystemdListen:
    """
    C{systemd:}: a listening socket inherited from systemd, by its
    C{FileDescriptorName} or its index among the passed descriptors.
    """

    text: str
    name: str | None
    index: int | None
    domain: socket.AddressFamily | None


ListenSpec = TCPListen | UNIXListen | SystemdListen


@dataclass(frozen=True)
class TLSKeys:
    """
    The key material an C{ssl:} description names.
    """

    certificate: str
    key: str
    chain: str | None


@dataclass(frozen=True)
class Listen:
    """
    A C{listen} value: where, and the keys of an C{ssl:} description.
    """

    spec: ListenSpec
    keys: TLSKeys | None


@dataclass(frozen=True)
class TLSSettings:
    """
    TLS in front of a service (C{ssl:} or the C{tls_*} attributes).

    @ivar certificate: PEM file with the certificate (and maybe the key and
        chain).
    @ivar key: PEM file with the private key.
    @ivar chain: PEM file with intermediate certificates, or L{None}.
    @ivar clientCA: PEM file of the CAs client certificates must chain to;
        L{None}: no client certificate is asked for.
    @ivar clientRequired: whether a client without a certificate is
        refused (C{tls_client_cert = required}).
    """

    certificate: str
    key: str
    chain: str | None = None
    clientCA: str | None = None
    clientRequired: bool = False


@dataclass(frozen=True)
class RedirectTLS:
    """
    TLS to a redirect target (C{redirect_tls = yes}).

    @ivar name: the host name the target's certificate must carry.
    @ivar ca: PEM file of the trusted CAs, or L{None} for the system's.
    """

    name: str
    ca: str | None = None


def splitDescription(text: str) -> tuple[str, list[str], dict[str, str]]:
    """
    Split an endpoint description into its type, positional arguments and
    keyword arguments, as Twisted does.

    @raise ListenError: for an empty type or a keyword given twice.
    """
    pieces: list[list[str]] = [[]]
    current: list[str] = []
    escaped = False
    for character in text:
        if escaped:
            current.append(character)
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == ":":
            pieces[-1].append("".join(current))
            pieces.append([])
            current = []
        elif character == "=" and len(pieces[-1]) == 0:
            pieces[-1].append("".join(current))
            current = []
        else:
            current.append(character)
    pieces[-1].append("".join(current))
    kind = pieces[0]
    if len(kind) != 1 or not kind[0]:
        raise ListenError(f"no endpoint type in {text!r}")
    positional: list[str] = []
    keywords: dict[str, str] = {}
    for piece in pieces[1:]:
        if len(piece) == 1:
            positional.append(piece[0])
            continue
        key, value = piece
        if key in keywords:
            raise ListenError(f"{key} given twice")
        keywords[key] = value
    return kind[0], positional, keywords


def _number(text: str, what: str, low: int, high: int, base: int = 10) -> int:
    try:
        value = int(text, base)
    except ValueError:
        raise ListenError(f"bad {what}: {text!r}") from None
    if not low <= value <= high:
        raise ListenError(f"{what} out of range: {text}")
    return value


def _only(keywords: dict[str, str], allowed: set[str], kind: str) -> None:
    unknown = sorted(set(keywords) - allowed)
    if unknown:
        raise ListenError(f"unknown {kind} option: {unknown[0]}")


def _positional(positional: list[str], count: int, what: str, kind: str) -> list[str]:
    if len(positional) != count:
        raise ListenError(f"{kind}: expected {what}")
    return positional


def _backlog(keywords: dict[str, str]) -> int | None:
    if "backlog" not in keywords:
        return None
    return _number(keywords["backlog"], "backlog", 1, 65535)


def _tcp(
    text: str, kind: str, positional: list[str], keywords: dict[str, str], extra: set[str]
) -> TCPListen:
    _only(keywords, {"interface", "backlog", *extra}, kind)
    (port,) = _positional(positional, 1, "a port number", kind)
    interface = keywords.get("interface") or None
    if interface is not None:
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in interface else socket.AF_INET, interface)
        except OSError:
            raise ListenError(f"interface is not a numeric address: {interface}") from None
    return TCPListen(
        text=text,
        port=_number(port, "port", 0, 65535),
        interface=interface,
        backlog=_backlog(keywords),
        ipv6=kind == "tcp6" or (interface is not None and ":" in interface),
    )


def _ssl(text: str, positional: list[str], keywords: dict[str, str]) -> tuple[TCPListen, TLSKeys]:
    listen = _tcp(text, "ssl", positional, keywords, {"privateKey", "certKey", "extraCertChain"})
    key = keywords.get("privateKey")
    if not key:
        raise ListenError("ssl: privateKey is required")
    return listen, TLSKeys(
        certificate=keywords.get("certKey") or key,
        key=key,
        chain=keywords.get("extraCertChain") or None,
    )


def _unix(text: str, positional: list[str], keywords: dict[str, str]) -> UNIXListen:
    _only(keywords, {"mode", "backlog", "lockfile", "wantPID"}, "unix")
    (path,) = _positional(positional, 1, "a socket path", "unix")
    if not path:
        raise ListenError("unix: expected a socket path")
    mode = DEFAULT_UNIX_MODE
    if "mode" in keywords:
        mode = _number(keywords["mode"], "mode", 0, 0o777, 8)
    return UNIXListen(text=text, path=path, mode=mode, backlog=_backlog(keywords))


def _systemd(text: str, positional: list[str], keywords: dict[str, str]) -> SystemdListen:
    _only(keywords, {"domain", "index", "name"}, "systemd")
    if positional:
        raise ListenError("systemd: takes only domain=, index= and name=")
    if ("index" in keywords) == ("name" in keywords):
        raise ListenError("systemd: give exactly one of index= and name=")
    domain = keywords.get("domain")
    if domain is not None and domain not in SYSTEMD_DOMAINS:
        raise ListenError(f"systemd: unknown domain {domain} (INET, INET6 or UNIX)")
    index = keywords.get("index")
    return SystemdListen(
        text=text,
        name=keywords.get("name") or None,
        index=None if index is None else _number(index, "index", 0, 65535),
        domain=None if domain is None else SYSTEMD_DOMAINS[domain],
    )


def parseListen(text: str) -> tuple[ListenSpec, TLSKeys | None]:
    """
    Read a C{listen} description.

    @return: where to listen, and the keys an C{ssl:} description names.
    @raise ListenError: if txinetd cannot listen there.
    """
    kind, positional, keywords = splitDescription(text)
    if kind in ("tcp", "tcp6"):
        return _tcp(text, kind, positional, keywords, set()), None
    if kind == "ssl":
        return _ssl(text, positional, keywords)
    if kind == "unix":
        return _unix(text, positional, keywords), None
    if kind == "systemd":
        return _systemd(text, positional, keywords), None
    raise ListenError(f"unsupported endpoint type {kind} (tcp, tcp6, ssl, unix or systemd)")


def fillTLSValues(values: dict[str, Any], name: str, problems: list[str]) -> None:
    """
    Check a service's C{tls_*} and C{redirect_tls*} attributes, or an
    C{ssl:} description's keys, and put them in C{values} as records:
    C{values["tls"]}, a L{TLSSettings}, and C{values["redirectTLS"]}, a
    L{RedirectTLS}.

    @param values: the service's values, by attribute name.
    @param name: the service's name, for the messages.
    @param problems: where each problem is added.
    """
    keys = values.pop("ssl_keys", None)
    certificate = values.pop("tls_certificate", None)
    tlsKey = values.pop("tls_key", None)
    chain = values.pop("tls_chain", None)
    clientCA = values.pop("tls_client_ca", None)
    clientRequired = values.pop("tls_client_cert", None)
    if keys is not None and (certificate or tlsKey or chain):
        problems.append(f"Service {name}: the ssl: description already names the keys")
    elif keys is not None:
        certificate, tlsKey, chain = keys.certificate, keys.key, keys.chain
    if certificate is not None and clientRequired is not None and clientCA is None:
        problems.append(f"Service {name}: tls_client_cert needs tls_client_ca")
    elif certificate is not None:
        values["tls"] = TLSSettings(
            certificate=certificate,
            key=tlsKey or certificate,
            chain=chain,
            clientCA=clientCA,
            clientRequired=clientCA is not None and clientRequired is not False,
        )
    elif tlsKey or chain or clientCA or clientRequired is not None:
        problems.append(f"Service {name}: TLS attributes need tls_certificate")
    redirectTLS = values.pop("redirect_tls", None)
    redirectName = values.pop("redirect_tls_name", None)
    redirectCA = values.pop("redirect_tls_ca", None)
    redirect = values.get("redirect")
    if redirectTLS and redirect is not None:
        values["redirectTLS"] = RedirectTLS(redirectName or redirect.host.text, redirectCA)
    elif redirectTLS:
        problems.append(f"Service {name}: redirect_tls needs redirect")
    elif redirectName is not None or redirectCA is not None:
        problems.append(
            f"Service {name}: redirect_tls_name and redirect_tls_ca need redirect_tls = yes"
        )
