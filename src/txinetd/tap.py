# -*- test-case-name: tests.test_tap -*-
"""
The C{xinetd} twistd plugin: xinetd's command line as twistd sub-options,
validation of the whole configuration before anything binds, and
L{makeService}.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from twisted.application.service import IService
from twisted.logger import Logger
from twisted.python import usage

from txinetd import __version__
from txinetd.core.config import Config, ServiceConfig
from txinetd.core.diagnostics import Severity, didYouMean, printable, systemError
from txinetd.core.events import SessionObserver
from txinetd.core.logformat import SYSLOG_FACILITIES, LogTarget, SyslogLevel
from txinetd.core.values import ServiceType
from txinetd.daemon.loading import loadConfig
from txinetd.daemon.logbatch import WriteBatch
from txinetd.daemon.logtargets import (
    FileLogTarget,
    SyslogTarget,
    TextLogFile,
)
from txinetd.daemon.machine import Collaborators, onThisMachine
from txinetd.daemon.programlog import ProgramLogObserver
from txinetd.daemon.safefiles import UnsafeFile
from txinetd.daemon.tree import DEFAULT_DUMP_FILE, XinetdService
from txinetd.monitoring import (
    EXPLAIN_BAD,
    EXPLAIN_FLAG,
    PARAMETERS,
    explainArguments,
    explainMode,
    monitoring,
    monitoringProblem,
    openEventLog,
)
from txinetd.net.systemd import ListenFds
from txinetd.startup import (
    EXIT_FAILURE,
    LAUNCHER,
    exitWith,
    explainUsageError,
    logUnwritable,
    misplacedFile,
    report,
    twistdLogFile,
    unwritableFiles,
)

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
    "inetd_ipv6",
    "shutdownprocs",
    "version",
    "check",
    "strict",
)


def describeService(config: ServiceConfig) -> str:
    """
    One line saying what a service is and where it listens.
    """
    kind = "internal" if config.kind.inProcess else config.kind.value
    where = config.where
    if config.tls is not None:
        where += " with TLS"
    if ServiceType.RPC in config.type and config.rpc_version is not None:
        low, high = config.rpc_version
        program = config.rpc_number if ServiceType.UNLISTED in config.type else config.name
        versions = f"version {low}" if low == high else f"versions {low}-{high}"
        where += f", RPC program {program} {versions} registered with the portmapper"
    wait = "wait" if config.wait else "nowait"
    return f"{config.id}: {config.protocol} {config.socket_type.value} {wait} {kind} on {where}"


def _number(option: str, low: int, high: int | None = None) -> Callable[[str], int]:
    """
    A coercer of an option's value to a whole number in a range, whose
    error says which option, what it was given and what it takes.
    """
    takes = f"{low} to {high}" if high is not None else f"{low} or more"

    def coerce(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise ValueError(f"{option} {text}: a whole number is needed, {takes}")
        return value

    coerce.coerceDoc = f"({takes})"  # type: ignore[attr-defined]
    return coerce


class Options(usage.Options):
    """
    txinetd's options.  xinetd's single-dash long options (C{-filelog},
    C{-stayalive}) are accepted as well as the usual C{--filelog}.
    """

    synopsis = "[options]"
    longdesc = (
        "Run xinetd services from an xinetd.conf file.  With --check, validate "
        "the configuration, print every problem and the services it would start, "
        "and exit 0 if it has no errors, 1 otherwise.  In the foreground (twistd -n, "
        "or -dontfork) txinetd keeps running when no service is available, as "
        "xinetd -dontfork does."
    )
    optParameters = [
        ["file", "f", DEFAULT_CONFIG, "The configuration file."],
        ["filelog", None, None, "Write txinetd's own messages to this file."],
        ["syslog", None, None, "Write txinetd's own messages to syslog with this facility."],
        [
            "limit",
            None,
            None,
            "At most this many servers running at once",
            _number("-limit", 1),
        ],
        ["hosts-allow", None, "/etc/hosts.allow", "The libwrap allow file."],
        ["hosts-deny", None, "/etc/hosts.deny", "The libwrap deny file."],
        ["syslog-socket", None, "/dev/log", "The local syslog socket."],
        [
            "ident-port",
            None,
            113,
            "The port ident (RFC 1413) queries go to",
            _number("--ident-port", 1, 65535),
        ],
        ["pidfile", None, None, "Write txinetd's pid to this file (removed at exit)."],
        [
            "logprocs",
            None,
            15,
            "At most this many ident lookups at once for USERID on failure",
            _number("-logprocs", 1),
        ],
        [
            "cc",
            None,
            None,
            "Check the daemon's consistency every this many seconds",
            _number("-cc", 1),
        ],
        ["dump-file", None, DEFAULT_DUMP_FILE, "Where SIGABRT appends the state dump."],
        ["shutdownprocs", None, None, "Deprecated; ignored."],
        ["inetd-conf", None, "/etc/inetd.conf", "The inetd.conf that --inetd_compat reads."],
        *PARAMETERS,
    ]
    optFlags = [
        ["check", None, "Validate the configuration and exit without binding."],
        ["stayalive", None, "Keep running when no service is available."],
        ["dontfork", None, "Stay in the foreground, as twistd -n does; implies --stayalive."],
        ["reuse", None, "Accepted for compatibility; SO_REUSEADDR is always set."],
        ["inetd_compat", None, "Also read the services of inetd.conf."],
        [
            "inetd_ipv6",
            None,
            "Debian's option, accepted with no effect: inetd.conf services are dual-stack.",
        ],
        [
            "strict",
            None,
            "An unknown attribute disables its service (fatal in defaults) instead of "
            "being ignored.",
        ],
        ["debug", "d", "Write debug messages to the program log too."],
        [
            "no-strict-modes",
            None,
            "Also read configuration files and directories that others than root "
            "(or txinetd's user) could have written.",
        ],
        ["version", None, "Print the version and exit."],
        EXPLAIN_FLAG,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.config: Config | None = None
        self.out: TextIO = sys.stdout
        self.err: TextIO = sys.stderr
        #: C{--explain}'s service, address and name (or L{None}).
        self.explained: tuple[str, str, str | None] | None = None

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        """
        Parse xinetd's command line.  A usage error is one line on
        standard error and exit status 1 (see L{txinetd.startup}).
        """
        if options is None:
            options = sys.argv[1:]
        try:
            super().parseOptions(self.normalise(options))
        except usage.UsageError as e:
            launcher = None if self.twistd is None else self.twistd.get(LAUNCHER)
            helpCommand = None if launcher is None else f"{launcher} --help"
            status = EXPLAIN_BAD if "--explain" in options else EXIT_FAILURE
            exitWith(explainUsageError(e, SINGLE_DASH, helpCommand), self.err, status=status)

    def normalise(self, arguments: Sequence[str]) -> list[str]:
        """
        xinetd's single-dash words as double-dash options (see
        L{doubleDash}).  Another word after a single dash is an unknown
        option: getopt would read C{-foo} as C{-f oo}.

        @raise usage.UsageError: for such a word.
        """
        parameters: list[Any] = self.optParameters
        takesValue = {str(p[i]) for p in parameters for i in (0, 1) if p[i]}
        normalised: list[str] = []
        value = False
        for argument in arguments:
            if value or argument == "--" or not argument.startswith("-") or argument == "-":
                normalised.append(argument)
                value = False
                continue
            argument = self.doubleDash(argument)
            name, given = argument.lstrip("-").partition("=")[::2]
            if not argument.startswith("--") and len(name) > 1:
                raise usage.UsageError(f"option {argument} not recognized")
            value = name in takesValue and not given and len(argument.lstrip("-")) == len(name)
            normalised.append(argument)
        return normalised

    def parseArgs(self, *arguments: str) -> None:
        """
        txinetd takes no arguments, only options; with C{--explain}, a
        service, an address and perhaps a name (and C{--at HH:MM} may follow
        them).
        """
        if self["explain"]:
            self.explained, at = explainArguments(list(arguments))
            if at is not None:
                self["at"] = at
            return
        if arguments:
            raise usage.UsageError(
                f"unexpected argument {arguments[0]}: txinetd takes only options; the "
                f"configuration file is given with -f {arguments[0]}"
            )

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
        Print the version and what is compiled in (on standard error), and exit.
        """
        self.err.write(f"txinetd {__version__} libwrap loadavg\n")
        raise SystemExit(0)

    def postOptions(self) -> None:
        if self["shutdownprocs"] is not None:
            self.err.write("The shutdownprocs option has been deprecated.\n")
        if self["dontfork"] or self.foreground:
            self["stayalive"] = True
            if self.twistd is not None:
                # As xinetd's -dontfork: stay in the foreground.
                self.twistd["nodaemon"] = True
        if self["filelog"] is not None and self["syslog"] is not None:
            raise usage.UsageError("-filelog and -syslog cannot be used together; give one of them")
        # Before the configuration is read: it would be the default one.
        problem = None if self.twistd is None else misplacedFile(self.twistd)
        if problem is not None:
            exitWith(problem, self.err)
        if self["syslog"] is not None and self["syslog"] not in SYSLOG_FACILITIES:
            hint = didYouMean(self["syslog"], SYSLOG_FACILITIES)
            self.err.write(f"Bad syslog facility: {self['syslog']}{hint}; using daemon\n")
            self["syslog"] = "daemon"
        if self["explain"]:
            self.explain()
        problem = monitoringProblem(self["metrics"], self["json-log"])
        if problem is not None:
            exitWith(problem, self.err)
        config = loadConfig(
            self["file"],
            inetdConf=self.inetdConf,
            strict=self["strict"],
            warnRelative=self["check"],
            strictModes=self.strictModes,
        )
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
        problem = None if self.twistd is None else unwritableFiles(self.twistd)
        if problem is not None:
            exitWith(problem, self.err)

    @property
    def twistd(self) -> dict[str, Any] | None:
        """
        twistd's options, when txinetd runs as its C{xinetd} plugin.
        """
        parent = getattr(self, "parent", None)
        return parent if isinstance(parent, usage.Options) else None

    @property
    def foreground(self) -> bool:
        """
        Whether twistd runs txinetd in the foreground (C{twistd -n}): like
        xinetd's C{-dontfork}, it then stays alive without services.
        """
        return self.twistd is not None and bool(self.twistd.get("nodaemon"))

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

    def explain(self) -> None:
        """
        The C{--explain} mode (see L{explainMode}).
        """
        explainMode(
            self.explained,
            self["at"],
            lambda: loadConfig(
                self["file"],
                inetdConf=self.inetdConf,
                strict=self["strict"],
                strictModes=self.strictModes,
            ),
            (self["hosts-allow"], self["hosts-deny"]),
            self.out,
            self.err,
        )

    def check(self, config: Config) -> None:
        """
        The C{--check} mode: report, list the services, exit.
        """
        report(config, self.out)
        for service in config.services:
            self.out.write(printable(f"service {describeService(service)}") + "\n")
        errors = config.errors
        warnings = sum(1 for d in config.diagnostics if d.severity is Severity.WARNING)
        if not config.services and not config.isFatal:
            self.out.write(f"{config.path}: no service is enabled\n")
        self.out.write(
            f"{config.path}: {len(config.services)} services, {len(errors)} errors, "
            f"{warnings} warnings\n"
        )
        raise SystemExit(1 if errors else 0)


def programLog(options: Options, batch: WriteBatch | None = None) -> ProgramLogObserver | None:
    """
    The observer that writes txinetd's own messages to C{-filelog} or
    C{-syslog}, if one was asked for.

    @param batch: what the C{-filelog} file keeps its lines for while it
        is held.

    @raise OSError: if the C{-filelog} file cannot be opened (L{UnsafeFile}
        if it is refused as unsafe).
    """
    target: LogTarget
    if options["filelog"] is not None:
        target = FileLogTarget(options["filelog"], batch=batch)
    elif options["syslog"] is not None:
        target = SyslogTarget(
            SYSLOG_FACILITIES[options["syslog"]],
            SyslogLevel.INFO,
            socketPath=options["syslog-socket"],
        )
    else:
        return None
    return ProgramLogObserver(target, debug=options["debug"])


def makeCollaborators(
    options: Options,
    reactor: Any,
    observers: tuple[SessionObserver, ...] = (),
    logBatch: WriteBatch | None = None,
) -> Collaborators:
    """
    What the service tree is built with, from the options and this
    machine, made once (hosts.allow and hosts.deny are read now).

    @param observers: what observes every session besides the service logs.
    @param logBatch: what the services' FILE logs keep their lines for
        while it is held.
    """
    return onThisMachine(
        reactor,
        syslogSocket=options["syslog-socket"],
        identPort=options["ident-port"],
        logprocs=options["logprocs"],
        processLimit=options["limit"],
        hostsFiles=(options["hosts-allow"], options["hosts-deny"]),
        listenFds=ListenFds.take(os.environ),
        observers=observers,
        debug=options["debug"],
        logBatch=logBatch,
    )


def makeService(options: Options) -> IService:
    """
    Build the service tree from validated options.
    """
    from twisted.internet import reactor

    config = options.config
    assert config is not None
    baseDirectory = os.getcwd()
    # The log lines of each of the reactor's wake-ups are written together.
    logBatch = WriteBatch()
    try:
        observer = programLog(options, logBatch)
    except UnsafeFile as e:
        exitWith(
            f"msg_init failed: can't open log file {options['filelog']}: {e.strerror}", options.err
        )
    except OSError as e:
        exitWith(
            f"msg_init failed: can't open log file {options['filelog']}: {systemError(e)}; "
            "-filelog needs a file in an existing directory that txinetd may write",
            options.err,
        )
    eventLog = openEventLog(options["json-log"], options["debug"], options.err, logBatch)
    monitors = monitoring(reactor, options["metrics"], eventLog, observer)
    path = options["file"]
    twistdLog = openTwistdLog(options, logBatch)
    inetdConf = options.inetdConf
    strict = options["strict"]
    strictModes = options.strictModes
    tree = XinetdService(
        config,
        makeCollaborators(options, reactor, monitors.observers, logBatch),
        monitors.messages,
        loader=lambda: loadConfig(
            path,
            baseDirectory=baseDirectory,
            inetdConf=inetdConf,
            strict=strict,
            strictModes=strictModes,
            reloading=True,
        ),
        loadInThread=True,
        stayalive=options["stayalive"],
        installSignals=True,
        dumpFile=options["dump-file"],
        pidFile=options["pidfile"],
        consistencyInterval=options["cc"],
        twistdLog=twistdLog,
        logBatch=logBatch,
    )
    monitors.attach(tree)
    service: IService = tree
    return service


def openTwistdLog(options: Options, batch: WriteBatch | None = None) -> TextLogFile | None:
    """
    Open the file twistd would log to, if it logs to a file, so that
    txinetd can reopen it after rotation (see
    L{txinetd.daemon.tree.XinetdService.setServiceParent}).

    @param batch: what the file keeps its lines for while it is held.
    """
    path = None if options.twistd is None else twistdLogFile(options.twistd)
    if path is None:
        return None
    try:
        return TextLogFile(path, batch)
    except OSError as e:
        exitWith(logUnwritable(path, systemError(e)), options.err)
