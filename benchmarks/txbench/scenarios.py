"""
The scenarios of the issue: what each setup serves, what the client does,
the target, and how txinetd and its peers are measured on it, alternately,
round after round.
"""

from __future__ import annotations

import json
import os
import pwd
import select
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from string import Template
from typing import Any

from txbench.report import Aggregate, Ceiling, Results, Row, Target
from txbench.servers import (
    Launcher,
    Listener,
    LoadgenServer,
    Peer,
    Running,
    Setup,
    StartFailure,
    StunnelService,
    TcpServerService,
    Tools,
    lastError,
    portOf,
    renderConfig,
    waitPorts,
)
from txbench.system import BenchError, Processes, listeningSockets, residentKiB

PAYLOAD = 64
CHARGEN_PERIOD = 95
CHARGEN_LINE = 74
BULK_BYTES = 64 << 20
MANY_SERVICES = 1000
MANY_OFFSET = 1000
MOVED_OFFSET = 999
ONLY_FROM_ENTRIES = 10_000
IDLE_THREADS = 8
IDLE_HOLD_SECONDS = 120
PROBE_COUNT = 5
REPLY_TIMEOUT = 5.0
RELOAD_TIMEOUT = 20.0
RELOAD_MARGIN = 0.3
CLIENT_SLACK_SECONDS = 60.0
NOFILE_LIMIT = 256
CPU_LIMIT = 3600
IDLE_TARGET_BYTES = 10 * 1024
BACKEND_OFFSET = 0
DD_BLOCK = 256 * 1024
CERTIFICATE = "tls-server.pem"
PRIVATE_KEY = "tls-server.key"


@dataclass(frozen=True)
class Settings:
    """
    How long and how often: C{--quick} or the full run.
    """

    rounds: int
    seconds: float
    startupRounds: int
    idleRounds: int
    idleConnections: int = 10_000

    @classmethod
    def full(cls) -> Settings:
        return cls(rounds=5, seconds=2.0, startupRounds=5, idleRounds=3)

    @classmethod
    def quick(cls) -> Settings:
        return cls(rounds=3, seconds=0.5, startupRounds=2, idleRounds=1)


@dataclass(frozen=True)
class RateScenario:
    """
    One client setting measured on one listener of a setup.

    @ivar client: the load generator's mode and options, without the port
        and the duration.
    @ivar figure: the key of the client's result that is the figure.
    """

    key: str
    title: str
    listener: str
    client: tuple[str, ...]
    unit: str
    target: Target | None = None
    figure: str = "rate"

    @property
    def timed(self) -> bool:
        return self.client[0] in ("tcp", "udp")


@dataclass(frozen=True)
class Probe:
    """
    A check that a peer really serves a setup as configured: either every
    one of C{PROBE_COUNT} client requests succeeds, or a bare connection gets
    exactly C{reply} (C{b""}: it is closed without a byte).
    """

    listener: str
    client: tuple[str, ...] = ()
    reply: bytes | None = None


def _tcp(conc: int, check: str, payload: int = 0, expect: int = -1) -> tuple[str, ...]:
    """
    The closed-loop TCP client: C{conc} workers, each reply checked as
    C{check} says (see C{loadgen.c}).
    """
    return ("tcp", f"conc={conc}", f"payload={payload}", f"expect={expect}", f"check={check}")


ECHO_UDP = ("udp", f"payload={PAYLOAD}", "window=1")


def _daytime(conc: int) -> tuple[str, ...]:
    return _tcp(conc, "daytime")


def _echo(conc: int) -> tuple[str, ...]:
    return _tcp(conc, "echo", PAYLOAD, PAYLOAD)


def _tlsEcho(conc: int) -> tuple[str, ...]:
    return (*_echo(conc), "tls=1")


#: The first two periods of chargen's lines, then the connection is reset.
CHARGEN = (*_tcp(1, "chargen", expect=2 * CHARGEN_PERIOD * CHARGEN_LINE), "eof=0")
TIME = _tcp(1, "time")
REDIRECT_BULK = ("bulk", f"expect={BULK_BYTES}", "check=source")
TLS_BULK = ("bulk", f"expect={BULK_BYTES}", "check=zeros", "tls=1")


def _tlsAttributes(certificate: Path, key: Path) -> str:
    """
    The lines that put a service of txinetd's configuration behind TLS.
    """
    return f"\ttls_certificate\t= {certificate}\n\ttls_key\t\t= {key}"


def makeCertificate(directory: Path) -> None:
    """
    A self-signed EC P-256 certificate for 127.0.0.1 and its key, made fresh
    in C{directory} with C{openssl req}.

    @raise BenchError: if openssl fails.
    """
    command = ["openssl", "req", "-x509", "-newkey", "ec"]
    command += ["-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
    command += ["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"]
    command += ["-keyout", str(directory / PRIVATE_KEY), "-out", str(directory / CERTIFICATE)]
    try:
        subprocess.run(command, capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        raise BenchError(f"cannot make the test certificate with openssl: {e}") from e


def _onlyFromLines() -> str:
    """
    An only_from list of C{ONLY_FROM_ENTRIES} entries, 100 to a line: hosts
    and /24 networks that do not match, then 127.0.0.1.
    """
    hosts = [f"10.1.{i // 250 + 1}.{i % 250 + 1}" for i in range(9000)]
    networks = [f"172.{16 + i // 256}.{i % 256}.0/24" for i in range(ONLY_FROM_ENTRIES - 9001)]
    entries = [*hosts, *networks, "127.0.0.1"]
    lines = []
    for start in range(0, len(entries), 100):
        operator = "=" if start == 0 else "+="
        lines.append(f"\tonly_from\t{operator} {' '.join(entries[start : start + 100])}")
    return "\n".join(lines)


def _setups(tools: Tools, idleConnections: int) -> dict[str, Setup]:
    both = (Peer.TXINETD, Peer.XINETD)
    three = (Peer.TXINETD, Peer.XINETD, Peer.TCPSERVER)
    limits = (("nofile", NOFILE_LIMIT), ("cpu", CPU_LIMIT))
    many = tuple(Listener(f"port{i}", MANY_OFFSET + i) for i in range(MANY_SERVICES))
    certificate, key = tools.work / CERTIFICATE, tools.work / PRIVATE_KEY
    setups = [
        Setup(
            "internal",
            "internal.conf",
            (
                Listener("echo", 7),
                Listener("echo_udp", 7, udp=True),
                Listener("daytime", 13),
                Listener("chargen", 19),
                Listener("time", 37),
            ),
            (*both, Peer.REFERENCE),
            reference=(
                LoadgenServer("echo", "echo-server", ("threads=16",)),
                LoadgenServer("echo_udp", "udp-echo-server"),
            ),
        ),
        Setup(
            "external-root",
            "external-root.conf",
            (Listener("cat", 20),),
            three,
            feature="external servers",
            tcpserver=(TcpServerService("cat", ("/bin/cat",)),),
        ),
        Setup(
            "external-nobody",
            "external-nobody.conf",
            (Listener("cat", 21), Listener("probe_port", 22)),
            three,
            feature="external servers as another user with rlimits",
            tcpserver=(
                TcpServerService("cat", ("/bin/cat",), True, limits),
                TcpServerService("probe_port", ("${probe}",), True, limits),
            ),
            values={"probe": str(tools.work / "credentials.sh")},
        ),
        Setup(
            "redirect",
            "redirect.conf",
            (Listener("bulk", 30),),
            (*both, Peer.REFERENCE),
            feature="redirect",
            reference=(
                LoadgenServer("bulk", "source-server", (f"bytes={BULK_BYTES}", "threads=2")),
            ),
            backend=LoadgenServer("backend", "source-server", (f"bytes={BULK_BYTES}",)),
            values={"backend": str(portOf(tools, None, BACKEND_OFFSET))},
        ),
        Setup(
            "only-from",
            "only-from.conf",
            (Listener("one", 40), Listener("many", 41), Listener("refused", 42)),
            both,
            feature="only_from",
            values={"only_from_many": _onlyFromLines()},
        ),
        Setup("many", "many-service.conf", many, both),
        Setup(
            "tls",
            "tls.conf",
            (Listener("echo_tls", 60), Listener("bulk_tls", 61), Listener("cat_tls", 62)),
            (Peer.TXINETD, Peer.STUNNEL, Peer.REFERENCE),
            feature="TLS (tls_certificate, tls_key)",
            stunnel=(
                StunnelService("echo_tls", 70),
                StunnelService("bulk_tls", 71),
                StunnelService("cat_tls", 72, ("/bin/cat", "cat")),
            ),
            reference=(
                LoadgenServer(
                    "echo_tls",
                    "tls-echo-server",
                    ("threads=16", f"cert={certificate}", f"key={key}"),
                ),
                LoadgenServer(
                    "bulk_tls",
                    "tls-source-server",
                    (f"bytes={BULK_BYTES}", "threads=2", f"cert={certificate}", f"key={key}"),
                ),
            ),
            values={
                "tls": "",
                "bulk_block": str(DD_BLOCK),
                "bulk_blocks": str(BULK_BYTES // DD_BLOCK),
                "certificate": str(certificate),
                "key": str(key),
            },
            peerValues={Peer.TXINETD: {"tls": _tlsAttributes(certificate, key)}},
        ),
        Setup(
            "idle",
            "idle.conf",
            (Listener("echo", 50),),
            (Peer.TXINETD,),
            nofile=idleConnections + 1024,
        ),
    ]
    return {setup.name: setup for setup in setups}


def _ratio(bound: float, peer: Peer) -> Target:
    return Target(f"txinetd >= {bound:g}x {peer.value}", bound, peer)


RATE_SCENARIOS: dict[str, tuple[RateScenario, ...]] = {
    "internal": tuple(
        RateScenario(
            f"echo_tcp_{n}",
            f"internal echo, TCP, {n} concurrent",
            "echo",
            _echo(n),
            "conn/s",
            _ratio(4, Peer.XINETD),
        )
        for n in (1, 8)
    )
    + tuple(
        RateScenario(
            f"daytime_tcp_{n}",
            f"internal daytime, TCP, {n} concurrent",
            "daytime",
            _daytime(n),
            "conn/s",
            _ratio(1, Peer.XINETD),
        )
        for n in (1, 8)
    )
    + tuple(
        RateScenario(
            f"time_tcp_{n}",
            f"internal time, TCP, {n} concurrent",
            "time",
            _tcp(n, "time"),
            "conn/s",
            _ratio(1, Peer.XINETD),
        )
        for n in (1, 8)
    )
    + (
        RateScenario(
            "echo_udp",
            "internal echo, UDP, 1 outstanding",
            "echo_udp",
            ECHO_UDP,
            "datagrams/s",
            _ratio(1, Peer.XINETD),
        ),
    ),
    "external-root": tuple(
        RateScenario(
            f"cat_root_{n}",
            f"external /bin/cat, user root, {n} concurrent",
            "cat",
            _echo(n),
            "conn/s",
            _ratio(1, Peer.TCPSERVER),
        )
        for n in (1, 8)
    ),
    "external-nobody": tuple(
        RateScenario(
            f"cat_nobody_{n}",
            f"external /bin/cat, user nobody + 2 rlimits, {n} concurrent",
            "cat",
            _echo(n),
            "conn/s",
            _ratio(1, Peer.TCPSERVER),
        )
        for n in (1, 8)
    ),
    "redirect": (
        RateScenario(
            "redirect_bulk",
            "redirect, 64 MiB bulk transfer",
            "bulk",
            REDIRECT_BULK,
            "MiB/s",
            _ratio(1, Peer.XINETD),
        ),
    ),
    "only-from": (
        RateScenario(
            "only_from_1",
            "daytime, only_from of 1 entry, 8 concurrent",
            "one",
            _daytime(8),
            "conn/s",
        ),
        RateScenario(
            "only_from_10000",
            "daytime, only_from of 10 000 entries, 8 concurrent",
            "many",
            _daytime(8),
            "conn/s",
        ),
    ),
    "tls": (
        *(
            RateScenario(
                f"tls_echo_{n}",
                f"echo over TLS: handshake, 64 bytes back, close; {n} concurrent",
                "echo_tls",
                _tlsEcho(n),
                "conn/s",
                _ratio(1.5, Peer.STUNNEL),
            )
            for n in (1, 8)
        ),
        RateScenario(
            "tls_bulk",
            "TLS, 64 MiB bulk from dd",
            "bulk_tls",
            TLS_BULK,
            "MiB/s",
            _ratio(1.5, Peer.STUNNEL),
        ),
        *(
            RateScenario(
                f"tls_exec_{n}",
                f"/bin/cat per connection over TLS (stunnel: exec); {n} concurrent",
                "cat_tls",
                _tlsEcho(n),
                "conn/s",
                _ratio(1, Peer.STUNNEL),
            )
            for n in (1, 8)
        ),
    ),
}


def _credentials() -> bytes:
    nobody = pwd.getpwnam("nobody")
    return f"{nobody.pw_uid} {nobody.pw_gid} {NOFILE_LIMIT} {CPU_LIMIT}\n".encode()


PROBES: dict[str, tuple[Probe, ...]] = {
    "internal": (
        Probe("echo", _echo(1)),
        Probe("echo_udp", ECHO_UDP),
        Probe("daytime", _daytime(1)),
        Probe("chargen", CHARGEN),
        Probe("time", TIME),
    ),
    "external-root": (Probe("cat", _echo(1)),),
    "external-nobody": (Probe("cat", _echo(1)), Probe("probe_port", reply=_credentials())),
    "redirect": (Probe("bulk", REDIRECT_BULK),),
    "only-from": (
        Probe("refused", reply=b""),
        Probe("one", _daytime(1)),
        Probe("many", _daytime(1)),
    ),
    "many": (Probe("port0", _daytime(1)),),
    "tls": (
        Probe("echo_tls", _tlsEcho(1)),
        Probe("bulk_tls", TLS_BULK),
        Probe("cat_tls", _tlsEcho(1)),
    ),
    "idle": (Probe("echo", _echo(1)),),
}

CREDENTIALS_SCRIPT = '#!/bin/sh\necho "$(id -u) $(id -g) $(ulimit -n) $(ulimit -t)"\n'

#: The scenarios that the reference servers also serve: the load generator's ceiling.
CEILING_KEYS = (
    "echo_tcp_1",
    "echo_tcp_8",
    "echo_udp",
    "redirect_bulk",
    "tls_echo_1",
    "tls_echo_8",
    "tls_bulk",
)


def rotate(peers: Sequence[Peer], turn: int) -> list[Peer]:
    """
    The peers in the order of round C{turn}: who goes first changes every round.
    """
    shift = turn % len(peers) if peers else 0
    return [*peers[shift:], *peers[:shift]]


class Bench:
    """
    Runs the scenarios and fills L{Results}.
    """

    def __init__(
        self,
        settings: Settings,
        tools: Tools,
        processes: Processes,
        results: Results,
    ) -> None:
        self.settings = settings
        self.tools = tools
        self.loadgen = tools.loadgen
        self.processes = processes
        self.results = results
        self.launcher = Launcher(tools, processes.start, processes.cpuSeconds)
        self.setups = _setups(tools, settings.idleConnections)
        script = tools.work / "credentials.sh"
        script.write_text(CREDENTIALS_SCRIPT)
        script.chmod(0o755)
        makeCertificate(tools.work)

    # -- clients

    def client(self, args: Sequence[str], timeout: float) -> dict[str, Any]:
        """
        Run the load generator to the end; its JSON result.
        """
        process = self.processes.start([str(self.loadgen), *args])
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise BenchError(f"loadgen {' '.join(args)} did not finish in {timeout:.0f} s") from e
        finally:
            self.processes.stop(process)
        if process.returncode != 0 or not out:
            raise BenchError(f"loadgen {' '.join(args)} failed: {err.decode(errors='replace')}")
        result: dict[str, Any] = json.loads(out.splitlines()[0])
        return result

    def clientArgs(self, client: Sequence[str], port: int, seconds: float | None) -> list[str]:
        args = [*client, f"port={port}"]
        if seconds is not None:
            args.append(f"seconds={seconds}")
        return args

    # -- starting peers

    @contextmanager
    def serving(self, setup: Setup) -> Iterator[ServingSet]:
        """
        Every peer of C{setup} started and probed; those txinetd cannot serve
        yet are reported in L{ServingSet.missing}.
        """
        serving = ServingSet({}, {})
        try:
            for peer in setup.peers:
                self.startProbed(setup, peer, serving)
            yield serving
        finally:
            for running in serving.running.values():
                for process in running.processes:
                    self.processes.stop(process)

    def startProbed(self, setup: Setup, peer: Peer, serving: ServingSet) -> None:
        try:
            running = self.launcher.start(setup, peer)
        except StartFailure as e:
            serving.missing[peer] = self.explain(setup, peer, str(e))
            return
        serving.running[peer] = running
        self.results.startups.setdefault(setup.name, {}).setdefault(peer.value, []).append(
            round(running.startupSeconds, 3)
        )
        failure = self.probe(setup, running)
        if failure is not None:
            logged = lastError(running.log)
            reason = f"{failure}; its log: {logged}" if logged else failure
            serving.missing[peer] = self.explain(setup, peer, reason)

    def explain(self, setup: Setup, peer: Peer, reason: str) -> str:
        """
        Why C{peer} does not serve C{setup}: a reason to report if it is
        txinetd and the setup needs a feature it may lack.

        @raise BenchError: otherwise.
        """
        if peer is not Peer.TXINETD or setup.feature is None:
            raise BenchError(f"{peer.value} cannot serve the {setup.name} setup: {reason}")
        check = self.checkConfig(setup)
        return f"{setup.feature}: {reason}" + (f" (--check: {check})" if check else "")

    def checkConfig(self, setup: Setup) -> str:
        """
        What C{twistd xinetd --check} says about txinetd's configuration of
        C{setup} if it rejects it, else the empty string.
        """
        config = self.tools.work / f"{setup.name}-{Peer.TXINETD.value}.conf"
        done = subprocess.run(
            [str(self.tools.twistd), "-n", "xinetd", "-f", str(config), "--check"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode == 0:
            return ""
        return " | ".join((done.stdout + done.stderr).strip().splitlines()[-3:])

    def probe(self, setup: Setup, running: Running) -> str | None:
        """
        Run the setup's probes on a running peer; what failed, or L{None}.
        """
        for probe in PROBES[setup.name]:
            if probe.listener not in running.ports:
                continue
            port = running.ports[probe.listener]
            if probe.reply is not None:
                got = reply(port)
                if got != probe.reply:
                    return f"{probe.listener}: expected {probe.reply!r}, got {got!r}"
                continue
            bulk = probe.client[0] == "bulk"
            args = self.clientArgs(probe.client, port, None if bulk else REPLY_TIMEOUT)
            result = self.client(
                args if bulk else [*args, f"max={PROBE_COUNT}"], CLIENT_SLACK_SECONDS
            )
            wanted = 1 if bulk else PROBE_COUNT
            if result["ok"] != wanted:
                return f"{probe.listener}: {summary(result)} of {wanted} probe requests"
        return None

    # -- rate scenarios

    def runRates(self, name: str) -> None:
        """
        Measure every rate scenario of a setup on every peer, round after round.
        """
        setup = self.setups[name]
        scenarios = RATE_SCENARIOS[name]
        rows = {s.key: self.results.row(s.key, s.title, s.unit, s.target) for s in scenarios}
        with self.backend(setup), self.serving(setup) as serving:
            for peer, reason in serving.missing.items():
                for row in rows.values():
                    row.markUnavailable(peer, reason)
            peers = [peer for peer in setup.peers if peer in serving.available]
            for turn in range(self.settings.rounds):
                for scenario in scenarios:
                    row = rows[scenario.key]
                    for peer in rotate(peers, turn):
                        running = serving.running[peer]
                        if scenario.listener in running.ports and peer not in row.unavailable:
                            self.measureRate(scenario, running, row)
        if name == "only-from":
            self.onlyFromRatio(rows["only_from_1"], rows["only_from_10000"])
        for scenario in scenarios:
            if "tls=1" in scenario.client:
                self.compareTls(rows[scenario.key])

    def compareTls(self, row: Row) -> None:
        """
        Check that every peer of a TLS row negotiated the same session in
        every round: protocol, cipher, key exchange group and certificate
        (otherwise the figures would compare different work), and record
        it.

        @raise BenchError: if they did not.
        """
        seen = {
            peer.value: sorted({str(detail.get("tls", "")) for detail in details})
            for peer, details in row.details.items()
            if peer not in row.unavailable
        }
        sessions = {session for found in seen.values() for session in found}
        if len(sessions) != 1 or "" in sessions:
            raise BenchError(f"{row.title}: the peers did not negotiate the same TLS: {seen}")
        self.results.tlsSessions[row.key] = sessions.pop()

    def measureRate(self, scenario: RateScenario, running: Running, row: Row) -> None:
        if running.exited():
            self.lost(running, row, running.exited())
            return
        before = running.cpuSeconds(scenario.listener)
        seconds = self.settings.seconds if scenario.timed else None
        args = self.clientArgs(scenario.client, running.ports[scenario.listener], seconds)
        result = self.client(args, (seconds or 0) + CLIENT_SLACK_SECONDS)
        if running.exited() or result["ok"] == 0:
            self.lost(running, row, running.exited() or f"failed measurement: {summary(result)}")
            return
        result["server_cpu_s"] = round(running.cpuSeconds(scenario.listener) - before, 3)
        row.add(running.peer, float(result[scenario.figure]), result)

    @staticmethod
    def lost(running: Running, row: Row, reason: str) -> None:
        """
        A peer stopped serving in the middle of the measurements: txinetd's
        row says so, a reference peer stops the run.
        """
        if running.peer is not Peer.TXINETD:
            raise BenchError(f"{running.peer.value}: {row.title}: {reason}")
        row.markUnavailable(running.peer, reason)

    def onlyFromRatio(self, one: Row, many: Row) -> None:
        row = self.results.row(
            "only_from_ratio",
            "only_from: rate with 10 000 entries / with 1",
            "ratio",
            Target("txinetd >= 0.95 (within 5%)", 0.95),
        )
        for peer, reason in {**one.unavailable, **many.unavailable}.items():
            row.markUnavailable(peer, reason)
        for peer in many.samples:
            for a, b in zip(one.samples.get(peer, []), many.samples[peer], strict=False):
                row.add(peer, b / a, {"one": a, "many": b})

    @contextmanager
    def backend(self, setup: Setup) -> Iterator[None]:
        """
        The setup's backend server, if it has one, started and listening.
        """
        if setup.backend is None:
            yield
            return
        port, log = int(setup.values["backend"]), self.tools.work / f"{setup.name}-backend.log"
        process = self.launcher.startLoadgen(setup.backend, port, log)
        try:
            waitPorts([process], "the backend", log, [port], [])
            yield
        finally:
            self.processes.stop(process)

    def summariseCeiling(self) -> None:
        """
        Compare the reference servers' figures with the fastest peer's.
        """
        for key in CEILING_KEYS:
            row = self.results.rows.get(key)
            rounds = row.details.get(Peer.REFERENCE) if row else None
            if row is None or not rounds:
                continue
            cpu = sum(d["cpu_s"] for d in rounds) / sum(d["seconds"] for d in rounds)
            fastest = max(row.figures().values(), default=None)
            rate = row.figure(Peer.REFERENCE) or 0.0
            self.results.ceilings.append(Ceiling(row.title, rate, cpu, fastest))

    # -- startup and reconfiguration

    def manyConfig(self, peer: Peer, moved: bool) -> str:
        """
        C{MANY_SERVICES} daytime services; with C{moved}, the last one on
        another port.
        """
        setup = self.setups["many"]
        fragment = Template((self.tools.configs / setup.template).read_text())
        offsets = [listener.offset for listener in setup.listeners]
        if moved:
            offsets[-1] = MOVED_OFFSET
        body = "".join(
            fragment.substitute(index=i, port=portOf(self.tools, peer, offset))
            for i, offset in enumerate(offsets)
        )
        return renderConfig(self.tools, setup, peer, body)

    def runStartup(self) -> None:
        """
        Start each peer with C{MANY_SERVICES} services, round after round:
        time to every port listening, memory, then a reconfiguration with one
        service changed while a client loops on another.
        """
        rows = self.startupRows()
        setup = self.setups["many"]
        for turn in range(self.settings.startupRounds):
            for peer in rotate(setup.peers, turn):
                running = self.launcher.start(setup, peer, self.manyConfig(peer, moved=False))
                try:
                    rows[0].add(peer, running.startupSeconds, {})
                    rows[1].add(peer, residentKiB(running.processes[0].pid) / 1024, {})
                    failure = self.probe(setup, running)
                    if failure is not None:
                        self.explain(setup, peer, failure)
                    if peer not in rows[2].unavailable:
                        self.reload(setup, running, rows[2:])
                finally:
                    self.processes.stop(running.processes[0])

    def startupRows(self) -> list[Row]:
        title = f"{MANY_SERVICES} services"
        row = self.results.row
        return [
            row(
                "startup_time",
                f"startup, {title}: all ports listening",
                "s",
                Target("<= 0.3 s", 0.3, atLeast=False),
            ),
            row(
                "startup_rss",
                f"startup, {title}: RSS",
                "MiB",
                Target("<= 32 MiB", 32.0, atLeast=False),
            ),
            row(
                "reload_time",
                f"reconfiguration of {title}, one changed",
                "s",
                Target("<= 0.2 s", 0.2, atLeast=False),
            ),
            row(
                "reload_failed",
                "reconfiguration: failed connections to an unchanged service",
                "count",
                Target("0", 0.0, atLeast=False),
                Aggregate.WORST,
            ),
            row(
                "reload_kept",
                f"reconfiguration: listening sockets kept (of {MANY_SERVICES - 1})",
                "count",
            ),
        ]

    def reload(self, setup: Setup, running: Running, rows: Sequence[Row]) -> None:
        """
        Move the last service to another port and send SIGHUP while a client
        loops on the first one, from a moment before the signal until a
        moment after the new port listens and the old one is closed.
        """
        peer, process = running.peer, running.processes[0]
        ports = [running.ports[listener.name] for listener in setup.listeners]
        movedTo = portOf(self.tools, peer, MOVED_OFFSET)
        before = listeningSockets(socket.IPPROTO_TCP)
        bound = RELOAD_TIMEOUT * 2 + RELOAD_MARGIN * 2
        looping = self.processes.start(
            [str(self.loadgen), *self.clientArgs(_daytime(1), ports[0], bound)]
        )
        try:
            time.sleep(RELOAD_MARGIN)
            assert running.config is not None
            running.config.write_text(self.manyConfig(peer, moved=True))
            began = time.monotonic()
            os.kill(process.pid, signal.SIGHUP)
            self.launcher.waitListening(running, [movedTo], [], timeout=RELOAD_TIMEOUT)
            self.launcher.waitListening(running, ports[-1:], [], False, RELOAD_TIMEOUT)
            seconds = time.monotonic() - began
            time.sleep(RELOAD_MARGIN)
            looping.send_signal(signal.SIGUSR1)
            out, _ = looping.communicate(timeout=bound + CLIENT_SLACK_SECONDS)
        except StartFailure as e:
            reason = self.explain(replace(setup, feature="reconfiguration (SIGHUP)"), peer, str(e))
            for row in rows:
                row.markUnavailable(peer, reason)
            return
        finally:
            self.processes.stop(looping)
        result = json.loads(out.splitlines()[0])
        after = listeningSockets(socket.IPPROTO_TCP)
        kept = [p for p in ports[:-1] if p in after and after[p].inode == before[p].inode]
        failed = sum(result[key] for key in ("refused", "errors", "timeouts", "short", "wrong"))
        rows[0].add(peer, seconds, {})
        rows[1].add(peer, failed, result)
        rows[2].add(peer, len(kept), {"listening": sum(p in after for p in ports[:-1])})

    # -- idle connections

    def runIdle(self) -> None:
        """
        RSS per idle connection: the server's memory before and after
        C{idleConnections} connections that each exchanged one byte.
        """
        count = self.settings.idleConnections
        row = self.results.row(
            "idle_rss",
            f"{count} concurrent idle connections on echo: RSS per connection",
            "bytes",
            Target("< 10 KiB", IDLE_TARGET_BYTES, atLeast=False),
        )
        for _ in range(self.settings.idleRounds):
            with self.serving(self.setups["idle"]) as serving:
                for peer, reason in serving.missing.items():
                    row.markUnavailable(peer, reason)
                for peer, running in serving.running.items():
                    if peer in serving.available:
                        self.measureIdle(running, count, row)

    def measureIdle(self, running: Running, count: int, row: Row) -> None:
        pid, port = running.processes[0].pid, running.ports["echo"]
        self.client([*self.clientArgs(_echo(4), port, REPLY_TIMEOUT), "max=200"], 60)
        before = residentKiB(pid)
        args = ["idle", f"port={port}", f"conns={count}", f"threads={IDLE_THREADS}"]
        holding = self.processes.start(
            [str(self.loadgen), *args, f"hold={IDLE_HOLD_SECONDS}"], stdin=subprocess.PIPE
        )
        try:
            result = json.loads(readLine(holding, IDLE_HOLD_SECONDS))
            time.sleep(0.5)
            after = residentKiB(pid)
        finally:
            self.processes.stop(holding)
        result.update(rss_before_kib=before, rss_after_kib=after)
        if result["established"] == 0:
            raise BenchError(f"no idle connection could be established: {result}")
        row.add(running.peer, (after - before) * 1024 / result["established"], result)


@dataclass
class ServingSet:
    """
    The peers started on a setup, and why the others are missing.
    """

    running: dict[Peer, Running]
    missing: dict[Peer, str]

    @property
    def available(self) -> list[Peer]:
        return [peer for peer in self.running if peer not in self.missing]


def reply(port: int) -> bytes:
    """
    Everything a server sends on a fresh connection that sends nothing and
    half-closes; C{b""} if it is closed or reset without a byte.
    """
    received = b""
    try:
        with socket.create_connection(("127.0.0.1", port), REPLY_TIMEOUT) as s:
            s.shutdown(socket.SHUT_WR)
            while chunk := s.recv(65536):
                received += chunk
    except ConnectionError:
        pass
    return received


def summary(result: dict[str, Any]) -> str:
    """
    A client's result in a few words: C{"0 ok, 5 errors"}.
    """
    counts = ("ok", "refused", "errors", "timeouts", "short", "wrong", "tls_varied", "lost")
    return ", ".join(f"{result[k]} {k}" for k in counts if k == "ok" or result.get(k))


def readLine(process: subprocess.Popen[bytes], timeout: float) -> str:
    """
    The first line a process writes, waiting at most C{timeout} seconds.
    """
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise BenchError(f"no output from {process.args!r} in {timeout:.0f} s")
    return process.stdout.readline().decode()
