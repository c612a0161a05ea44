# -*- test-case-name: tests.test_tap_monitoring -*-
"""
The monitoring options of the C{xinetd} twistd plugin (L{txinetd.tap}):
C{--metrics ENDPOINT} and C{--json-log PATH}, checked before anything binds
and made into observers of every session; and the C{--explain SERVICE
ADDRESS [NAME] [--at HH:MM]} mode, which starts nothing.  See
docs/monitoring.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TextIO

from twisted.logger import ILogObserver
from twisted.python import usage

from txinetd.core.addresses import clientAddress
from txinetd.core.config import Config
from txinetd.core.diagnostics import printable, systemError
from txinetd.core.events import SessionObserver
from txinetd.core.explain import explainClient, parseClock
from txinetd.daemon.eventlog import EventLog, LogObservers
from txinetd.daemon.logbatch import WriteBatch
from txinetd.daemon.metrics import SessionTally
from txinetd.daemon.monitor import MonitorService, checkEndpoint
from txinetd.daemon.safefiles import UnsafeFile
from txinetd.daemon.tree import XinetdService
from txinetd.serve.hostsfiles import readHostsAccess
from txinetd.startup import exitWith, report, unwritable

__all__ = [
    "EXPLAIN_ADMITS",
    "EXPLAIN_BAD",
    "EXPLAIN_FLAG",
    "EXPLAIN_REFUSES",
    "PARAMETERS",
    "Monitoring",
    "explainArguments",
    "explainMode",
    "monitoring",
    "monitoringProblem",
    "openEventLog",
]

#: C{--explain}'s exit statuses: every service admits, one refuses, the
#: configuration or an argument is bad.
EXPLAIN_ADMITS, EXPLAIN_REFUSES, EXPLAIN_BAD = 0, 1, 2

#: What C{--metrics} takes, for its error message.
ENDPOINT_EXAMPLES = "tcp:9101:interface=127.0.0.1 or unix:/run/txinetd/metrics:mode=600"

#: The options' parameters (twistd's C{optParameters}).
PARAMETERS: list[list[Any]] = [
    [
        "metrics",
        None,
        None,
        "Serve /metrics (Prometheus) and /status (JSON) on this Twisted endpoint "
        f"({ENDPOINT_EXAMPLES}); see docs/monitoring.md.",
    ],
    [
        "json-log",
        None,
        None,
        "Also write every session event and program message to this file, one JSON "
        "object a line (docs/monitoring.md).",
    ],
    ["at", None, None, "With --explain: the time of day to explain for, HH:MM (default: now)."],
]

#: The C{--explain} flag (twistd's C{optFlags}).
EXPLAIN_FLAG = [
    "explain",
    None,
    "--explain SERVICE ADDRESS [NAME]: say whether a client from ADDRESS (named "
    "NAME) would be let in to each service with that id or name, and by which "
    "rule; exit 0 if all admit, 1 if one refuses, 2 for a bad configuration or "
    "argument.  Nothing is started.",
]


def explainArguments(arguments: list[str]) -> tuple[tuple[str, str, str | None], str | None]:
    """
    C{--explain}'s arguments: C{SERVICE ADDRESS [NAME]}, with C{--at HH:MM}
    (or C{--at=HH:MM}) among them.

    @return: the service, the address and the name, and C{--at}'s value if
        it is among them.
    @raise usage.UsageError: if they are not that.
    """
    words: list[str] = []
    at = None
    while arguments:
        word = arguments.pop(0)
        if word == "--at":
            if not arguments:
                raise usage.UsageError("option --at requires argument")
            at = arguments.pop(0)
        elif word.startswith("--at="):
            at = word[len("--at=") :]
        else:
            words.append(word)
    if len(words) not in (2, 3):
        raise usage.UsageError(
            "--explain takes a service, an address and perhaps a name: "
            "--explain ftp 192.0.2.7 [host.example.com] [--at HH:MM]"
        )
    return (words[0], words[1], words[2] if len(words) == 3 else None), at


def explainMode(
    explained: tuple[str, str, str | None] | None,
    at: str | None,
    load: Callable[[], Config],
    hostsFiles: tuple[str, str],
    out: TextIO,
    err: TextIO,
) -> NoReturn:
    """
    The C{--explain} mode: say, for each service with the id or name asked
    for, whether the client would be let in and by which rule; exit 0, 1 or
    2 (see L{EXPLAIN_ADMITS}).

    @param explained: the service, the address and the name asked for.
    @param at: C{--at}'s value.
    @param load: loads the configuration.
    @param hostsFiles: hosts.allow and hosts.deny.
    """
    if explained is None:
        exitWith("--explain needs a service and an address", err, status=EXPLAIN_BAD)
    wanted, address, name = explained
    try:
        clock = None if at is None else parseClock(at)
    except ValueError as e:
        exitWith(f"--at {e}", err, status=EXPLAIN_BAD)
    try:
        client = clientAddress(address)
    except ValueError:
        exitWith(f"{address} is not an IPv4 or IPv6 address", err, status=EXPLAIN_BAD)
    config = load()
    if config.isFatal:
        report(config, err)
        raise SystemExit(EXPLAIN_BAD)
    services = [s for s in config.services if wanted in (s.id, s.name)]
    disabled = [i for i in config.disabled if i == wanted]
    if not services and not disabled:
        report(config, err)
        exitWith(f"no service {wanted} in {config.path}", err, status=EXPLAIN_BAD)
    hosts = readHostsAccess(*hostsFiles)
    admits = True
    for service in services:
        explanation = explainClient(service, client, name, clock, hosts)
        admits = admits and explanation.admits
        for line in explanation.lines():
            out.write(printable(line) + "\n")
    for serviceId in disabled:
        admits = False
        out.write(printable(f"{serviceId}: refused: disabled in {config.path}") + "\n")
    raise SystemExit(EXPLAIN_ADMITS if admits else EXPLAIN_REFUSES)


def monitoringProblem(metrics: str | None, jsonLog: str | None) -> str | None:
    """
    What is wrong with C{--metrics} or C{--json-log}, in one line, or
    L{None}.
    """
    if metrics is not None:
        why = checkEndpoint(metrics)
        if why is not None:
            return (
                f"--metrics {metrics}: {why}; give a Twisted server endpoint such "
                f"as {ENDPOINT_EXAMPLES}"
            )
    if jsonLog is not None:
        why = unwritable(jsonLog)
        if why is not None:
            return (
                f"--json-log {jsonLog}: {why}; give a file in an existing "
                "directory that txinetd may write"
            )
    return None


def openEventLog(
    path: str | None, debug: bool, err: TextIO, batch: WriteBatch | None = None
) -> EventLog | None:
    """
    Open the C{--json-log} file, if one was asked for; a failure is one
    line and exit status 1.

    @param batch: what the file keeps its lines for while it is held.
    """
    if path is None:
        return None
    try:
        return EventLog(path, debug=debug, batch=batch)
    except UnsafeFile as e:
        exitWith(f"cannot open the JSON event log {path}: {e.strerror}", err)
    except OSError as e:
        exitWith(
            f"cannot open the JSON event log {path}: {systemError(e)}; --json-log needs a file "
            "in an existing directory that txinetd may write",
            err,
        )


@dataclass(frozen=True)
class Monitoring:
    """
    What the monitoring options add to the daemon.

    @ivar observers: what observes every session besides the service logs.
    @ivar messages: the observer of the program's messages (the program
        log's, and the JSON event log's).
    @ivar monitor: the metrics endpoint, if one was asked for.
    """

    observers: tuple[SessionObserver, ...]
    messages: ILogObserver | None
    monitor: MonitorService | None

    def attach(self, tree: XinetdService) -> None:
        """
        Make the metrics endpoint a child of the service tree it shows.
        """
        if self.monitor is not None:
            self.monitor.watch(tree)
            self.monitor.setServiceParent(tree)


def monitoring(
    reactor: Any, metrics: str | None, eventLog: EventLog | None, programLog: ILogObserver | None
) -> Monitoring:
    """
    The observers the monitoring options add, and the metrics endpoint.

    @param metrics: C{--metrics}'s endpoint.
    @param eventLog: C{--json-log}'s log.
    @param programLog: the observer of C{-filelog} or C{-syslog}.
    """
    observers: tuple[SessionObserver, ...] = ()
    messages = programLog
    monitor = None
    if eventLog is not None:
        observers += (eventLog,)
        programs = (each for each in (programLog, eventLog.observeProgram) if each is not None)
        messages = LogObservers(*programs)
    if metrics is not None:
        tally = SessionTally()
        monitor = MonitorService(reactor, metrics, tally)
        observers += (tally, monitor)
    return Monitoring(observers, messages, monitor)
