# -*- test-case-name: tests.integration.test_spawn_safety -*-
"""
A hostile server, for tests: started by txinetd as an unprivileged user, it
attacks every process it can find for SECONDS seconds, then prints a JSON
report on its stdout (its client) and exits.

    hostile.py SECONDS ANCESTOR DECOY

The daemon is its parent.  Its targets, scanned from /proc again and again:
every process of the daemon's tree, and every process of its own uid among
the descendants of ANCESTOR (the test; never another program's processes).
Each target is pinned by a pidfd and sent SIGSTOP:

  - refused (EPERM): SIGKILL is sent as well, and must be refused too,
    unless the target took this server's uid in between (a child becoming
    a server), which the credentials it dies with show;
  - accepted: the target is frozen, so its credentials cannot change while
    they are read.  If any of its uids is not this server's, or it is the
    daemon, it is a process with txinetd's privileges that a server could
    stop: a violation (it is then sent SIGKILL, as an attacker would).
    Otherwise it is a server of the attacker's user, or a child of the
    daemon becoming one (it still runs the daemon's program): it is held
    stopped for a moment (a child becoming a server for HOLD seconds, to
    show the daemon does not wait for it) and continued, so that the
    clients of other services are not failed by this server's own power
    over its user's processes.  The DECOY pid, a process of this user that
    is no server, is sent SIGKILL: it shows the attack really has that
    power.

Standard library only; it must run under any user.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections import Counter

#: How long a child becoming a server is held stopped (seconds).
HOLD = 0.2


def scan() -> dict[int, int]:
    """
    Every process: pid -> parent pid.
    """
    parents = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                parents[int(name)] = int(f.read().rpartition(b")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return parents


def descendants(parents: dict[int, int], root: int) -> set[int]:
    """
    C{root} and every process below it.
    """
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo.extend(children.get(pid, ()))
    return found


def uidsOf(pid: int) -> tuple[int, ...] | None:
    """
    The real, effective, saved and filesystem uids of C{pid}.
    """
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return tuple(int(field) for field in line.split()[1:5])
    except OSError:
        return None
    return None


def ended(pid: int) -> bool:
    """
    Whether C{pid} has exited (a zombie, not reaped yet).
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def commandOf(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def main(seconds: float, ancestor: int, decoy: int) -> dict[str, object]:
    me = os.getpid()
    uid = os.getuid()
    daemon = os.getppid()
    daemonCommand = commandOf(daemon)
    counts: Counter[str] = Counter()
    violations: list[dict[str, object]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        parents = scan()
        tree = descendants(parents, daemon)
        mine = {
            pid
            for pid in descendants(parents, ancestor)
            if (uids := uidsOf(pid)) is not None and uid in uids
        }
        if counts["decoy killed"]:
            mine.discard(decoy)
        for pid in sorted((tree | mine) - {me}):
            try:
                pidfd = os.pidfd_open(pid)
            except OSError:
                continue
            try:
                attack(pidfd, pid, pid in tree, daemon, daemonCommand, decoy, counts, violations)
            finally:
                os.close(pidfd)
        counts["scans"] += 1
    return {"counts": dict(counts), "violations": violations}


def attack(
    pidfd: int,
    pid: int,
    inTree: bool,
    daemon: int,
    daemonCommand: bytes,
    decoy: int,
    counts: Counter[str],
    violations: list[dict[str, object]],
) -> None:
    what = "daemon" if pid == daemon else "tree" if inTree else "own"
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGSTOP)
    except PermissionError:
        counts[f"{what}: SIGSTOP refused"] += 1
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except PermissionError:
            counts[f"{what}: SIGKILL refused"] += 1
        except ProcessLookupError:
            counts[f"{what}: ended before SIGKILL"] += 1
        else:
            # Its credentials changed between the two signals: it is
            # dying now, with the credentials it had when it was killed.
            uids = uidsOf(pid)
            if uids is None:
                counts[f"{what}: killed, reaped unseen"] += 1
            elif all(each == os.getuid() for each in uids):
                counts[f"{what}: killed a child that had just become a server"] += 1
            else:
                violations.append({"pid": pid, "what": what, "killed": True, "uids": uids})
        return
    except ProcessLookupError:
        return
    # Stopped (or already ended): its credentials stay as they are while
    # they are read.
    uids = uidsOf(pid)
    if uids is None or ended(pid):
        return
    if pid == daemon or any(each != os.getuid() for each in uids):
        violations.append({"pid": pid, "what": what, "uids": uids})
        send(pidfd, signal.SIGKILL)
        return
    if pid == decoy:
        if send(pidfd, signal.SIGKILL):
            counts["decoy killed"] += 1
        return
    becoming = commandOf(pid) == daemonCommand
    counts["stopped a child becoming a server" if becoming else f"{what}: stopped a server"] += 1
    if becoming:
        time.sleep(HOLD)
    send(pidfd, signal.SIGCONT)


def send(pidfd: int, number: int) -> bool:
    """
    Signal a process that may have ended and been reaped meanwhile.
    """
    try:
        signal.pidfd_send_signal(pidfd, number)
    except ProcessLookupError:
        return False
    return True


if __name__ == "__main__":
    report = main(float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
