# Types of the C extension txinetd.spawn._launch (see _launch.c).

from typing import Any

STEP_SIGACTION: int
STEP_SETSID: int
STEP_DUP2: int
STEP_CHDIR: int
STEP_SETGROUPS: int
STEP_SETGID: int
STEP_SETRLIMIT: int
STEP_SETUID: int
STEP_EXECVE: int

def launch(
    path: bytes,
    argv: tuple[bytes, ...],
    envp: tuple[bytes, ...],
    fd: int,
    status_fd: int,
    max_fd: int,
    uid: int | None,
    gid: int | None,
    groups: tuple[int, ...] | None,
    umask: int | None,
    nice: int | None,
    limits: tuple[tuple[int, int], ...],
    exit_signal: int,
    /,
) -> tuple[int, Any]: ...
def release(region: Any, /) -> None: ...
