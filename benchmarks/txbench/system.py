"""
What the harness needs from the operating system: starting and reliably
stopping processes, listening ports (read with sock_diag, so that thousands of
TIME_WAIT entries do not slow the polling down), memory of a process, the CPU
time of a process and of everything it started, and a description of the
machine.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

STOP_GRACE_SECONDS = 3.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# sock_diag (linux/sock_diag.h, linux/inet_diag.h)
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP = 0x300
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_TCP_LISTEN = 10
_UDP_UNCONNECTED = 7
_NLMSG_HEADER = struct.Struct("=LHHLL")
_DIAG_REQUEST = struct.Struct("=BBBxL48x")
_DIAG_MESSAGE_SPORT = 4
_DIAG_MESSAGE_INODE = 68
_INET_DIAG_REQ_BYTECODE = 1
_RTATTR_HEADER = struct.Struct("=HH")
_BC_OP = struct.Struct("=BBH")
_BC_JMP = 1
_BC_S_GE = 2
_BC_S_LE = 3
#: Up to this many ports are looked for by a filter the kernel runs: a dump
#: of a thousand listening sockets parsed in Python costs about 4 ms of CPU,
#: which a poll every few milliseconds would take from the server measured.
_MOST_FILTERED_PORTS = 32


class BenchError(Exception):
    """
    The benchmark cannot go on: a peer does not start, a port is taken, a
    tool is missing.  The message says which.
    """


@dataclass(frozen=True)
class Socket:
    """
    One listening socket as the kernel reports it.

    @ivar port: its local port.
    @ivar inode: its inode: the same inode means the same socket.
    """

    port: int
    inode: int


def listeningSockets(protocol: int, ports: Iterable[int] | None = None) -> dict[int, Socket]:
    """
    The IPv4 sockets listening (TCP) or bound and unconnected (UDP), by port.

    @param protocol: C{socket.IPPROTO_TCP} or C{socket.IPPROTO_UDP}.
    @param ports: only these ports are wanted (a few of them are looked for
        by the kernel, see L{_portFilter}); L{None} for every port.
    """
    wanted = None if ports is None else frozenset(ports)
    if wanted is not None and 0 < len(wanted) <= _MOST_FILTERED_PORTS:
        found = _dump(protocol, _portFilter(sorted(wanted)))
        if found is not None:
            return found
    found = _dump(protocol, b"")
    if found is None:
        raise BenchError("sock_diag request refused by the kernel")
    if wanted is None:
        return found
    return {port: entry for port, entry in found.items() if port in wanted}


def _dump(protocol: int, bytecode: bytes) -> dict[int, Socket] | None:
    """
    One sock_diag dump of the listening sockets, with a filter's
    C{bytecode} if it is not empty; L{None} if the kernel refuses it.
    """
    state = _TCP_LISTEN if protocol == socket.IPPROTO_TCP else _UDP_UNCONNECTED
    request = _DIAG_REQUEST.pack(socket.AF_INET, protocol, 0, 1 << state)
    if bytecode:
        request += _RTATTR_HEADER.pack(_RTATTR_HEADER.size + len(bytecode), _INET_DIAG_REQ_BYTECODE)
        request += bytecode
    header = _NLMSG_HEADER.pack(
        _NLMSG_HEADER.size + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST | _NLM_F_DUMP, 1, 0
    )
    found: dict[int, Socket] = {}
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as nl:
        nl.sendall(header + request)
        while True:
            data = nl.recv(1 << 20)
            for kind, body in _netlinkMessages(data):
                if kind == _NLMSG_DONE:
                    return found
                if kind == _NLMSG_ERROR:
                    return None
                (port,) = struct.unpack_from("!H", body, _DIAG_MESSAGE_SPORT)
                (inode,) = struct.unpack_from("=L", body, _DIAG_MESSAGE_INODE)
                found[port] = Socket(port, inode)


def _portFilter(ports: Sequence[int]) -> bytes:
    """
    inet_diag bytecode (linux/inet_diag.h) that accepts a socket whose local
    port is one of C{ports}: for each port, C{sport >= port} and C{sport <=
    port} (which every kernel with sock_diag has), then a jump to the end,
    which accepts; a failed test goes to the next port's tests, and after
    the last port's, past the end, which rejects.  Every jump lands on an
    operation the kernel's check reaches through the C{yes} branches.
    """
    sizes = [16 if index == len(ports) - 1 else 20 for index in range(len(ports))]
    total = sum(sizes)
    code = bytearray()
    start = 0
    for port, size in zip(ports, sizes, strict=True):
        failed = start + size if size == 20 else total + 4
        code += _BC_OP.pack(_BC_S_GE, 8, failed - start)
        code += _BC_OP.pack(0, 0, port)
        code += _BC_OP.pack(_BC_S_LE, 8, failed - (start + 8))
        code += _BC_OP.pack(0, 0, port)
        if size == 20:
            code += _BC_OP.pack(_BC_JMP, 4, total - (start + 16))
        start += size
    return bytes(code)


def _netlinkMessages(data: bytes) -> Iterable[tuple[int, bytes]]:
    offset = 0
    while offset + _NLMSG_HEADER.size <= len(data):
        length, kind, _, _, _ = _NLMSG_HEADER.unpack_from(data, offset)
        yield kind, data[offset + _NLMSG_HEADER.size : offset + length]
        offset += (length + 3) & ~3


def portsInUse(tcp: Iterable[int], udp: Iterable[int]) -> list[int]:
    """
    Which of these ports something already listens on.
    """
    listeningTcp = listeningSockets(socket.IPPROTO_TCP)
    listeningUdp = listeningSockets(socket.IPPROTO_UDP)
    return [p for p in tcp if p in listeningTcp] + [p for p in udp if p in listeningUdp]


def residentKiB(pid: int) -> int:
    """
    The resident set size of a process, in KiB.
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for process {pid}")


def _ownAndReaped(pid: int) -> float:
    """
    CPU time of a process and of the children it has reaped, in seconds; 0
    if it is gone.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def treeCpuSeconds(pid: int) -> float:
    """
    CPU time of a process and of every living process below it, each with
    the children it has reaped, in seconds: the daemon, its long-lived
    helpers (and the servers those reaped), its running servers.
    """
    return sum(_ownAndReaped(each) for each in [pid, *descendants(pid)])


class CpuAccounting:
    """
    The CPU time of a started process and of everything it starts, read the
    same way for every peer: from a cgroup v2 of its own (C{cpu.stat}'s
    C{usage_usec} counts every process that ever ran in it, the servers
    that ended included) where this machine lets the harness make one, else
    from C{/proc} over its process tree (L{treeCpuSeconds}), which misses
    servers reaped by helpers that have ended since.

    @ivar method: C{"cgroup2"} or C{"proc-tree"}, recorded in the results.
    """

    def __init__(self) -> None:
        self.base: Path | None = None
        self.groups: dict[int, Path] = {}
        self.made = 0
        for root in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
            if (root / "cgroup.procs").exists() and (root / "cpu.stat").exists():
                try:
                    base = root / f"txbench-{os.getpid()}"
                    base.mkdir()
                except OSError:
                    continue
                self.base = base
                break
        self.method = "proc-tree" if self.base is None else "cgroup2"

    def newGroup(self) -> Path | None:
        """
        A new empty cgroup for one process, or L{None} without cgroups.
        """
        if self.base is None:
            return None
        self.made += 1
        group = self.base / f"process-{self.made}"
        group.mkdir()
        return group

    def enter(self, group: Path | None) -> Any:
        """
        What a new process runs before it executes: join C{group}.
        """
        if group is None:
            return None
        procs = str(group / "cgroup.procs")

        def join() -> None:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))

        return join

    def adopt(self, pid: int, group: Path | None) -> None:
        if group is not None:
            self.groups[pid] = group

    def cpuSeconds(self, pid: int) -> float:
        """
        CPU time of a started process and of everything it started.
        """
        group = self.groups.get(pid)
        if group is None:
            return treeCpuSeconds(pid)
        for line in (group / "cpu.stat").read_text().splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) / 1e6
        raise BenchError(f"no usage_usec in {group}/cpu.stat")

    def release(self, pid: int) -> None:
        """
        Remove the cgroup of a process that has ended with everything below
        it (a cgroup that still holds a process stays until the end).
        """
        group = self.groups.pop(pid, None)
        if group is not None:
            with contextlib.suppress(OSError):
                group.rmdir()

    def close(self) -> None:
        """
        Remove every cgroup left, and the harness's own.
        """
        for pid in list(self.groups):
            self.release(pid)
        if self.base is not None:
            for group in self.base.iterdir() if self.base.exists() else []:
                with contextlib.suppress(OSError):
                    group.rmdir()
            with contextlib.suppress(OSError):
                self.base.rmdir()


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def descendants(pid: int) -> list[int]:
    """
    Every living process below C{pid}.
    """
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    pending = list(children.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(children.get(child, []))
    return found


def _signal(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


class Processes:
    """
    Every process the harness starts, so that all of them, and whatever they
    started, are stopped at the end however the run ends.
    """

    def __init__(self, cpu: CpuAccounting | None = None) -> None:
        self.running: list[subprocess.Popen[bytes]] = []
        self.cpu = cpu

    def start(
        self,
        argv: Sequence[str],
        log: Path | None = None,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        cwd: Path | None = None,
        accounted: bool = False,
    ) -> subprocess.Popen[bytes]:
        """
        Start a process in a session of its own; its output goes to C{log}, or
        to a pipe if C{log} is L{None}.

        @param accounted: whether its CPU time, and that of everything it
            starts, is measured (L{CpuAccounting}).
        """
        out: int | IO[Any] = subprocess.PIPE
        if log is not None:
            out = log.open("ab")
        group = self.cpu.newGroup() if accounted and self.cpu is not None else None
        try:
            process = subprocess.Popen(
                list(argv),
                stdin=stdin,
                stdout=out,
                stderr=subprocess.STDOUT if log is not None else subprocess.PIPE,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=None if self.cpu is None else self.cpu.enter(group),
            )
        except OSError as e:
            raise BenchError(f"cannot run {argv[0]}: {e.strerror}") from e
        finally:
            if log is not None and not isinstance(out, int):
                out.close()
        if self.cpu is not None:
            self.cpu.adopt(process.pid, group)
        self.running.append(process)
        return process

    def cpuSeconds(self, pid: int) -> float:
        """
        CPU time of a started process and of everything it started.
        """
        return treeCpuSeconds(pid) if self.cpu is None else self.cpu.cpuSeconds(pid)

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """
        Stop a process and everything below it: TERM, then KILL after a grace
        period.  The servers a super-server started may have left its process
        group (setsid), so they are found by parentage first.
        """
        below = descendants(process.pid)
        if process.poll() is None:
            _signal([-process.pid], signal.SIGTERM)
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _signal([-process.pid], signal.SIGKILL)
                process.wait()
        self._reap(below)
        if self.cpu is not None:
            self.cpu.release(process.pid)
        if process in self.running:
            self.running.remove(process)

    @staticmethod
    def _reap(pids: list[int]) -> None:
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        _signal(alive, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while alive and time.monotonic() < deadline:
            time.sleep(0.02)
            alive = [pid for pid in alive if Path(f"/proc/{pid}").exists()]
        _signal(alive, signal.SIGKILL)

    def stopAll(self) -> None:
        """
        Stop every process still running, the most recent first.
        """
        for process in reversed(list(self.running)):
            self.stop(process)


def _firstLine(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else "?"


def _cpuModel() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _osRelease() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "unknown"


def machine(repo: Path, python: Path) -> dict[str, Any]:
    """
    The machine and software the figures come from.
    """
    memory = Path("/proc/meminfo").read_text().split()[1]
    return {
        "cpu": _cpuModel(),
        "cpus": os.cpu_count(),
        "memory_mib": int(memory) // 1024,
        "kernel": platform.release(),
        "os": _osRelease(),
        "load_average": os.getloadavg(),
        "python": _firstLine([str(python), "--version"]),
        "twisted": _firstLine([str(python), "-c", "import twisted; print(twisted.__version__)"]),
        "xinetd": _firstLine(["dpkg-query", "-W", "-f=${Version}", "xinetd"]),
        "ucspi_tcp": _firstLine(["dpkg-query", "-W", "-f=${Version}", "ucspi-tcp"]),
        "stunnel4": _firstLine(["dpkg-query", "-W", "-f=${Version}", "stunnel4"]),
        "openssl": _firstLine(["openssl", "version"]),
        "gcc": _firstLine(["gcc", "--version"]),
        "commit": _firstLine(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"]),
        "source_modified": _sourceModified(repo),
    }


def _sourceModified(repo: Path) -> bool | None:
    """
    Whether txinetd's sources differ from the commit (the figures are those
    of the working tree), or L{None} if git cannot say.
    """
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(done.stdout.strip())
