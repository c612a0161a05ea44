# -*- test-case-name: tests.test_tap -*-
"""
The C{xinetd} twistd plugin: xinetd's command line as twistd sub-options,
validation of the whole configuration before anything binds, and
L{makeService}.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from twisted.application.service import IService
from twisted.logger import Logger
from twisted.python import usage

from txinetd import __version__
from txinetd.config import Config, ServiceConfig, loadConfig
from txinetd.errors import printable
from txinetd.limits import ProcessLimit
from txinetd.logformat import SYSLOG_FACILITIES, SyslogLevel
from txinetd.observers import FileLogTarget, LogTarget, ProgramLogObserver, SyslogTarget
from txinetd.policies import Daemon, IdentLookups, LogTargets
from txinetd.service import DEFAULT_DUMP_FILE
from txinetd.systemd import ListenFds

DEFAULT_CONFIG = "/etc/xinetd.conf"

log = Logger(namespace="txinetd")

#: Long options that xinetd spells with one dash.
SINGLE_DASH = (
    "filelog",
    "syslog",
    "limit",
    "pidfile",
    "stayalive",
    "dontfork",
    "logprocs",
    "cc",
    "reuse",
    "inetd_compat",
    "shutdownprocs",
    "version",
    "check",
)


def describeService(config: ServiceConfig) -> str:
    """
    One line saying what a service is and where it listens.
    """
    kind = "internal" if config.isInternal else "redirect" if config.redirect else "server"
    where = "tcpmux" if not config.listens else f"{config.bindAddress} port {config.port}"
    if config.place is not None:
        where = config.place
    if config.tls is not None:
        where += " with TLS"
    wait = "wait" if config.wait else "nowait"
    return f"{config.id}: {config.protocol} {config.socket_type.value} {wait} {kind} on {where}"


def report(config: Config, out: TextIO) -> None:
    """
    Write every diagnostic of a configuration, one per line.
    """
    for diagnostic in config.diagnostics:
        out.write(f"{diagnostic}\n")


def _port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise ValueError(text)
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


class Options(usage.Options):
    """
    txinetd's options.  xinetd's single-dash long options (C{-filelog},
    C{-stayalive}) are accepted as well as the usual C{--filelog}.
    """

    synopsis = "[options]"
    longdesc = (
        "Run xinetd services from an xinetd.conf file.  With --check, validate "
        "the configuration, print every problem and the services it would start, "
        "and exit 0 if it has no errors, 1 otherwise."
    )
    optParameters = [
        ["file", "f", DEFAULT_CONFIG, "The configuration file."],
        ["filelog", None, None, "Write txinetd's own messages to this file."],
        ["syslog", None, None, "Write txinetd's own messages to syslog with this facility."],
        ["limit", None, None, "At most this many servers running at once.", _positive],
        ["hosts-allow", None, "/etc/hosts.allow", "The libwrap allow file."],
        ["hosts-deny", None, "/etc/hosts.deny", "The libwrap deny file."],
        ["syslog-socket", None, "/dev/log", "The local syslog socket."],
        ["ident-port", None, 113, "The port ident (RFC 1413) queries go to.", _port],
        ["pidfile", None, None, "Write txinetd's pid to this file (removed at exit)."],
        [
            "logprocs",
            None,
            15,
            "At most this many ident lookups at once for USERID on failure.",
            _positive,
        ],
        ["cc", None, None, "Check the daemon's consistency every this many seconds.", _positive],
        ["dump-file", None, DEFAULT_DUMP_FILE, "Where SIGABRT appends the state dump."],
        ["shutdownprocs", None, None, "Deprecated; ignored."],
        ["inetd-conf", None, "/etc/inetd.conf", "The inetd.conf that --inetd_compat reads."],
    ]
    optFlags = [
        ["check", None, "Validate the configuration and exit without binding."],
        ["stayalive", None, "Keep running when no service is available."],
        ["dontfork", None, "Stay in the foreground (use twistd -n); implies --stayalive."],
        ["reuse", None, "Accepted for compatibility; SO_REUSEADDR is always set."],
        ["inetd_compat", None, "Also read the services of inetd.conf."],
        ["debug", "d", "Write debug messages to the program log too."],
        [
            "no-strict-modes",
            None,
            "Also read configuration files and directories that others than root "
            "(or txinetd's user) could have written.",
        ],
        ["version", None, "Print the version and exit."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self.config: Config | None = None
        self.out: TextIO = sys.stdout
        self.err: TextIO = sys.stderr

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        if options is None:
            options = sys.argv[1:]
        super().parseOptions([self.doubleDash(option) for option in options])

    @staticmethod
    def doubleDash(option: str) -> str:
        """
        C{-filelog} to C{--filelog}; anything else unchanged.
        """
        if option.startswith("-") and not option.startswith("--"):
            name = option[1:].split("=", 1)[0]
            if name in SINGLE_DASH:
                return "-" + option
        return option

    def opt_version(self) -> None:
        """
        Print the version and exit.
        """
        self.out.write(f"txinetd {__version__}\n")
        raise SystemExit(0)

    def postOptions(self) -> None:
        if self["shutdownprocs"] is not None:
            self.err.write("The shutdownprocs option has been deprecated.\n")
        if self["dontfork"]:
            self["stayalive"] = True
        if self["filelog"] is not None and self["syslog"] is not None:
            raise usage.UsageError("-filelog and -syslog cannot be used together")
        if self["syslog"] is not None and self["syslog"] not in SYSLOG_FACILITIES:
            self.err.write(f"Bad syslog facility: {self['syslog']}; using daemon\n")
            self["syslog"] = "daemon"
        config = loadConfig(self["file"], inetdConf=self.inetdConf, strictModes=self.strictModes)
        self.config = config
        if self["check"]:
            self.check(config)
        if config.isFatal:
            report(config, self.err)
            raise SystemExit(1)
        if not config.services and not self["stayalive"]:
            report(config, self.err)
            self.err.write("error: no services. Exiting...\n")
            raise SystemExit(1)

    @property
    def strictModes(self) -> bool:
        """
        Whether configuration files others could have written are refused.
        """
        return not self["no-strict-modes"]

    @property
    def inetdConf(self) -> str | None:
        """
        The inetd.conf to read too, if any.
        """
        return self["inetd-conf"] if self["inetd_compat"] else None

    def check(self, config: Config) -> None:
        """
        The C{--check} mode: report, list the services, exit.
        """
        report(config, self.out)
        for service in config.services:
            self.out.write(printable(f"service {describeService(service)}") + "\n")
        errors = config.errors
        warnings = len(config.diagnostics) - len(errors)
        self.out.write(
            f"{config.path}: {len(config.services)} services, {len(errors)} errors, "
            f"{warnings} warnings\n"
        )
        raise SystemExit(1 if errors or not config.services else 0)


def programLog(options: Options) -> ProgramLogObserver | None:
    """
    The observer that writes txinetd's own messages to C{-filelog} or
    C{-syslog}, if one was asked for.
    """
    target: LogTarget
    if options["filelog"] is not None:
        try:
            target = FileLogTarget(options["filelog"])
        except OSError as e:
            raise SystemExit(f"Cannot open -filelog {options['filelog']}: {e.strerror}") from None
    elif options["syslog"] is not None:
        target = SyslogTarget(
            SYSLOG_FACILITIES[options["syslog"]],
            SyslogLevel.INFO,
            socketPath=options["syslog-socket"],
        )
    else:
        return None
    return ProgramLogObserver(target, debug=options["debug"])


def makeDaemon(options: Options, reactor: Any) -> Daemon:
    """
    The state all services share, from the options.
    """
    config = options.config
    extra = {} if config is None or config.internals is None else {"internals": config.internals}
    daemon = Daemon(
        reactor,
        **extra,
        logs=LogTargets(options["syslog-socket"]),
        identPort=options["ident-port"],
        identLookups=IdentLookups(options["logprocs"]),
        processes=ProcessLimit(options["limit"]),
        hostsFiles=(options["hosts-allow"], options["hosts-deny"]),
        listenFds=ListenFds.take(os.environ),
    )
    daemon.rereadHostsAccess()
    return daemon


def makeService(options: Options) -> IService:
    """
    Build the service tree from validated options.
    """
    from twisted.internet import reactor

    from txinetd.service import XinetdService

    config = options.config
    assert config is not None
    baseDirectory = os.getcwd()
    path = options["file"]
    inetdConf = options.inetdConf
    strictModes = options.strictModes
    service: IService = XinetdService(
        config,
        reactor,
        makeDaemon(options, reactor),
        programLog(options),
        loader=lambda: loadConfig(
            path, baseDirectory=baseDirectory, inetdConf=inetdConf, strictModes=strictModes
        ),
        loadInThread=True,
        stayalive=options["stayalive"],
        installSignals=True,
        dumpFile=options["dump-file"],
        pidFile=options["pidfile"],
        consistencyInterval=options["cc"],
    )
    return service
