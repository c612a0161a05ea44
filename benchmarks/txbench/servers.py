"""
The super-servers under test and how each is started on a setup: txinetd and
xinetd read the same configuration (rendered from C{configs/}, only the ports
differ), tcpserver gets the equivalent command line, one process per service,
stunnel terminates TLS in front of the same services in xinetd, and the
reference servers are the load generator's own.
"""

from __future__ import annotations

import pwd
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from string import Template
from typing import Protocol

from txbench.system import BenchError, listeningSockets, portsInUse, treeCpuSeconds

STARTUP_TIMEOUT = 60.0
POLL_SECONDS = 0.002
TCPSERVER_CONCURRENCY = 1000
LISTEN_BACKLOG = 64
LOG_TAIL_LINES = 6


class Peer(Enum):
    """
    A super-server under test.
    """

    TXINETD = "txinetd"
    XINETD = "xinetd"
    TCPSERVER = "tcpserver"
    #: stunnel terminating TLS in front of xinetd's plaintext services.
    STUNNEL = "stunnel+xinetd"
    #: The load generator's own C servers: the ceiling of what it can measure.
    REFERENCE = "reference"


#: Each peer listens in a block of ports of its own, above the base port.
PORT_BLOCKS = {
    Peer.TXINETD: 0,
    Peer.XINETD: 2000,
    Peer.TCPSERVER: 4000,
    Peer.REFERENCE: 6000,
    Peer.STUNNEL: 8000,
}
HELPER_BLOCK = 7000


@dataclass(frozen=True)
class Listener:
    """
    A port of a setup: the template variable that names it, its offset in
    each peer's block, and whether it is UDP.
    """

    name: str
    offset: int
    udp: bool = False


@dataclass(frozen=True)
class TcpServerService:
    """
    How tcpserver serves one listener of a setup.

    @ivar listener: the listener's name.
    @ivar program: the program and its arguments (template variables allowed).
    @ivar asNobody: run as nobody (C{-u} and C{-g}).
    @ivar rlimits: resource limits (C{prlimit} names and values) of
        tcpserver, inherited by every server it starts.
    """

    listener: str
    program: tuple[str, ...]
    asNobody: bool = False
    rlimits: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class StunnelService:
    """
    How stunnel and xinetd serve one TLS listener of a setup: stunnel
    accepts TLS on the listener's port and connects to xinetd serving the
    same service, in plaintext, at C{offset} in their block; or, with
    C{program}, stunnel runs that program for each connection itself (its
    C{exec} mode, the way stunnel serves inetd-style programs).

    @ivar program: the program's path and argv, or nothing.
    """

    listener: str
    offset: int
    program: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadgenServer:
    """
    One of the load generator's own servers.

    @ivar listener: the listener it serves.
    @ivar mode: C{echo-server}, C{udp-echo-server}, C{source-server},
        C{tls-echo-server} or C{tls-source-server}.
    @ivar options: its options (C{threads=16}).
    """

    listener: str
    mode: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Setup:
    """
    A set of services that every peer serves at once.

    @ivar name: short name, also the C{--only} key.
    @ivar template: the configuration template in C{configs/}.
    @ivar peers: who serves it; txinetd first.
    @ivar feature: what txinetd needs to serve it, or L{None} if it must
        serve it today.
    @ivar tcpserver: tcpserver's equivalents, when tcpserver is a peer.
    @ivar stunnel: stunnel's services, when stunnel+xinetd is a peer.
    @ivar reference: the reference servers, when they are a peer.
    @ivar backend: a server every peer's services talk to (its port is the
        template value C{backend}).
    @ivar nofile: RLIMIT_NOFILE (soft and hard) of every peer.
    @ivar values: more template values.
    @ivar peerValues: template values of one peer, over C{values}.
    """

    name: str
    template: str
    listeners: tuple[Listener, ...]
    peers: tuple[Peer, ...]
    feature: str | None = None
    tcpserver: tuple[TcpServerService, ...] = ()
    stunnel: tuple[StunnelService, ...] = ()
    reference: tuple[LoadgenServer, ...] = ()
    backend: LoadgenServer | None = None
    nofile: int = 4096
    values: Mapping[str, str] = field(default_factory=dict)
    peerValues: Mapping[Peer, Mapping[str, str]] = field(default_factory=dict)

    def listener(self, name: str) -> Listener:
        for listener in self.listeners:
            if listener.name == name:
                return listener
        raise KeyError(name)


class StartFailure(BenchError):
    """
    A peer did not start serving a setup.
    """


@dataclass(frozen=True)
class Tools:
    """
    Where the programs are, and the directory for generated files.
    """

    configs: Path
    work: Path
    twistd: Path
    loadgen: Path
    xinetd: str
    tcpserver: str
    stunnel: str
    basePort: int


@dataclass
class Running:
    """
    A peer serving a setup.

    @ivar processes: its processes (tcpserver, reference: one per service;
        stunnel+xinetd: xinetd, then stunnel).
    @ivar pids: the processes serving each listener.
    @ivar ports: the port of each listener it serves.
    @ivar config: the configuration file (txinetd and xinetd).
    @ivar log: the program log.
    @ivar startupSeconds: from the first process start to every port listening.
    @ivar cpu: the CPU time of a process the launcher started and of
        everything below it (L{txbench.system.CpuAccounting}).
    """

    peer: Peer
    processes: list[subprocess.Popen[bytes]]
    pids: dict[str, tuple[int, ...]]
    ports: dict[str, int]
    config: Path | None
    log: Path
    startupSeconds: float = 0.0
    cpu: Callable[[int], float] = treeCpuSeconds

    def exited(self) -> str:
        """
        Why the peer is no longer running, or the empty string if it is.
        """
        return exitReason(self.processes, self.peer.value, self.log)

    def cpuSeconds(self, listener: str) -> float:
        """
        CPU time of the processes serving C{listener} and of everything
        they started (helpers, servers), the same way for every peer.
        """
        return sum(self.cpu(pid) for pid in self.pids[listener])


def exitReason(processes: Sequence[subprocess.Popen[bytes]], name: str, log: Path) -> str:
    """
    Why one of C{processes} is no longer running, or the empty string.
    """
    for process in processes:
        status = process.poll()
        if status is not None:
            return f"{name} exited with status {status}: {_logTail(log)}"
    return ""


def portOf(tools: Tools, peer: Peer | None, offset: int) -> int:
    """
    The port of an offset in a peer's block (L{None}: the helpers' block).
    """
    block = HELPER_BLOCK if peer is None else PORT_BLOCKS[peer]
    return tools.basePort + block + offset


def renderConfig(tools: Tools, setup: Setup, peer: Peer, body: str | None = None) -> str:
    """
    The configuration text of a setup for txinetd or xinetd: the shared
    defaults, then the setup's template, or C{body} if given.  xinetd behind
    stunnel serves each TLS listener on its plaintext port.
    """
    values = {**setup.values, **setup.peerValues.get(peer, {})}
    values["servicelog"] = str(tools.work / f"{setup.name}-{peer.value}-service.log")
    behind = {s.listener: s.offset for s in setup.stunnel} if peer is Peer.STUNNEL else {}
    for listener in setup.listeners:
        offset = behind.get(listener.name, listener.offset)
        values[listener.name] = str(portOf(tools, peer, offset))
    defaults = Template((tools.configs / "defaults.conf").read_text()).substitute(values)
    if body is None:
        body = Template((tools.configs / setup.template).read_text()).substitute(values)
    return defaults + body


def _prlimit(nofile: int, more: Sequence[tuple[str, int]] = ()) -> list[str]:
    limits = {"nofile": nofile, **dict(more)}
    return ["prlimit", *(f"--{name}={value}:{value}" for name, value in limits.items()), "--"]


def lastError(log: Path) -> str:
    """
    The last line of a log that reports an error, or the empty string.
    """
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        if "rror" in line or "xception" in line or "#critical]" in line:
            return line.strip()
    return ""


def _logTail(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(line.strip() for line in lines[-LOG_TAIL_LINES:]) or "(empty log)"


class Launcher:
    """
    Starts peers on setups and waits until they listen.
    """

    def __init__(
        self, tools: Tools, start: StartProcess, cpu: Callable[[int], float] = treeCpuSeconds
    ) -> None:
        self.tools = tools
        self.startProcess = start
        self.cpu = cpu

    def ports(self, setup: Setup, peer: Peer) -> dict[str, int]:
        """
        The port of every listener of C{setup} that C{peer} serves.
        """
        served = {
            Peer.TCPSERVER: {service.listener for service in setup.tcpserver},
            Peer.REFERENCE: {server.listener for server in setup.reference},
        }
        names = served.get(peer, {listener.name for listener in setup.listeners})
        return {
            listener.name: portOf(self.tools, peer, listener.offset)
            for listener in setup.listeners
            if listener.name in names
        }

    def start(self, setup: Setup, peer: Peer, configText: str | None = None) -> Running:
        """
        Start C{peer} on C{setup} and wait until all its ports listen.

        @param configText: the configuration to use instead of the rendered
            template (txinetd and xinetd).
        @raise StartFailure: if it exits or does not listen in time.
        """
        ports = self.ports(setup, peer)
        udp = {lst.name for lst in setup.listeners if lst.udp}
        tcpPorts = [port for name, port in ports.items() if name not in udp]
        udpPorts = [port for name, port in ports.items() if name in udp]
        behind = self.behindStunnel(setup) if peer is Peer.STUNNEL else {}
        busy = portsInUse([*tcpPorts, *behind.values()], udpPorts)
        if busy:
            raise BenchError(
                f"port {busy[0]} ({len(busy)} in all) of {peer.value} is taken by another "
                "program: stop it or choose another --base-port"
            )
        log = self.tools.work / f"{setup.name}-{peer.value}.log"
        log.unlink(missing_ok=True)
        began = time.monotonic()
        running = Running(peer, [], {}, ports, None, log, cpu=self.cpu)
        if peer is Peer.TCPSERVER:
            self._startTcpServer(setup, running)
        elif peer is Peer.REFERENCE:
            for server in setup.reference:
                self._startLoadgenServer(server, running)
        else:
            running.config = self.tools.work / f"{setup.name}-{peer.value}.conf"
            running.config.write_text(configText or renderConfig(self.tools, setup, peer))
            process = self.startProcess(
                self._command(setup, peer, running.config, log), log, accounted=True
            )
            running.processes.append(process)
            running.pids = dict.fromkeys(ports, (process.pid,))
            if peer is Peer.STUNNEL:
                self._startStunnel(setup, running, behind)
        self.waitListening(running, tcpPorts, udpPorts)
        running.startupSeconds = time.monotonic() - began
        return running

    def _startLoadgenServer(self, server: LoadgenServer, running: Running) -> None:
        process = self.startLoadgen(server, running.ports[server.listener], running.log)
        running.processes.append(process)
        running.pids[server.listener] = (process.pid,)

    def startLoadgen(self, server: LoadgenServer, port: int, log: Path) -> subprocess.Popen[bytes]:
        """
        Start one of the load generator's servers on C{port}.
        """
        argv = [str(self.tools.loadgen), server.mode, f"port={port}", *server.options]
        return self.startProcess(argv, log, accounted=True)

    def _command(self, setup: Setup, peer: Peer, config: Path, log: Path) -> list[str]:
        if peer is Peer.TXINETD:
            server = [str(self.tools.twistd), "-n", "--pidfile=", f"--logfile={log}"]
            return [*_prlimit(setup.nofile), *server, "xinetd", "-f", str(config)]
        xinetd = [self.tools.xinetd, "-dontfork", "-f", str(config), "-filelog", str(log)]
        return [*_prlimit(setup.nofile), *xinetd]

    def behindStunnel(self, setup: Setup) -> dict[str, int]:
        """
        The plaintext port of xinetd behind stunnel, for each TLS listener.
        """
        return {s.listener: portOf(self.tools, Peer.STUNNEL, s.offset) for s in setup.stunnel}

    def _startStunnel(self, setup: Setup, running: Running, behind: Mapping[str, int]) -> None:
        """
        Once xinetd (already started) serves the plaintext ports, start
        stunnel in front of them; both count as serving every listener.
        """
        waitPorts(running.processes, "xinetd behind stunnel", running.log, [*behind.values()], [])
        config = self.tools.work / f"{setup.name}-stunnel.conf"
        config.write_text(self._stunnelConfig(setup, running.ports, behind))
        argv = [*_prlimit(setup.nofile), self.tools.stunnel, str(config)]
        process = self.startProcess(argv, running.log, accounted=True)
        running.processes.append(process)
        running.pids = dict.fromkeys(running.ports, (running.processes[0].pid, process.pid))

    def _stunnelConfig(
        self, setup: Setup, ports: Mapping[str, int], behind: Mapping[str, int]
    ) -> str:
        """
        stunnel's configuration: the global part, then one section per
        service, from C{configs/stunnel.conf} and C{configs/stunnel-service.conf}
        (C{configs/stunnel-exec-service.conf} for a program it runs itself).
        """
        values = {**setup.values, **setup.peerValues.get(Peer.STUNNEL, {})}
        text = Template((self.tools.configs / "stunnel.conf").read_text()).substitute(values)
        section = Template((self.tools.configs / "stunnel-service.conf").read_text())
        execSection = Template((self.tools.configs / "stunnel-exec-service.conf").read_text())
        programs = {service.listener: service.program for service in setup.stunnel}
        for name, port in behind.items():
            program = programs.get(name, ())
            if program:
                text += execSection.substitute(
                    values,
                    name=name,
                    accept=ports[name],
                    program=program[0],
                    argv=" ".join(program[1:]),
                )
            else:
                text += section.substitute(values, name=name, accept=ports[name], connect=port)
        return text

    def _startTcpServer(self, setup: Setup, running: Running) -> None:
        ports = running.ports
        values = {**setup.values, **{name: str(port) for name, port in ports.items()}}
        nobody = pwd.getpwnam("nobody")
        for service in setup.tcpserver:
            options = ["-H", "-R", "-l", "localhost", "-c", str(TCPSERVER_CONCURRENCY)]
            options += ["-b", str(LISTEN_BACKLOG)]
            if service.asNobody:
                options += ["-u", str(nobody.pw_uid), "-g", str(nobody.pw_gid)]
            program = [Template(word).substitute(values) for word in service.program]
            argv = [
                *_prlimit(setup.nofile, service.rlimits),
                self.tools.tcpserver,
                *options,
                "127.0.0.1",
                str(ports[service.listener]),
                *program,
            ]
            process = self.startProcess(argv, running.log, accounted=True)
            running.processes.append(process)
            running.pids[service.listener] = (process.pid,)

    @staticmethod
    def waitListening(
        running: Running,
        tcp: Sequence[int],
        udp: Sequence[int],
        present: bool = True,
        timeout: float = STARTUP_TIMEOUT,
    ) -> float:
        """
        L{waitPorts} for a running peer.
        """
        name = running.peer.value
        return waitPorts(running.processes, name, running.log, tcp, udp, present, timeout)


def waitPorts(
    processes: Sequence[subprocess.Popen[bytes]],
    name: str,
    log: Path,
    tcp: Sequence[int],
    udp: Sequence[int],
    present: bool = True,
    timeout: float = STARTUP_TIMEOUT,
) -> float:
    """
    Wait until every port listens (or, with C{present=False}, none does);
    the seconds waited.

    @param name: who listens, for the error message.
    @param log: where its output goes, quoted in the error message.
    @raise StartFailure: if a process exits or the time runs out.
    """
    began = time.monotonic()
    while True:
        exited = exitReason(processes, name, log)
        if exited:
            raise StartFailure(exited)
        listeningTcp = listeningSockets(socket.IPPROTO_TCP, tcp)
        listeningUdp = listeningSockets(socket.IPPROTO_UDP, udp) if udp else {}
        missing = [p for p in tcp if (p in listeningTcp) != present]
        missing += [p for p in udp if (p in listeningUdp) != present]
        elapsed = time.monotonic() - began
        if not missing:
            return elapsed
        if elapsed > timeout:
            state = "listening" if present else "closed"
            raise StartFailure(
                f"{name}: {len(missing)} ports not {state} after {timeout:.0f} s "
                f"(first: {missing[0]}): {_logTail(log)}"
            )
        time.sleep(POLL_SECONDS)


class StartProcess(Protocol):
    """
    How the launcher starts a process (L{txbench.system.Processes.start}).
    """

    def __call__(
        self, argv: Sequence[str], log: Path, *, accounted: bool = False
    ) -> subprocess.Popen[bytes]: ...
