# -*- test-case-name: tests.spawn.test_launch -*-
"""
What a child reports on its status pipe when a step of its set-up fails,
and the steps it names (numbered as C{_launch.c} numbers them).
"""

from __future__ import annotations

import os
import resource
import struct

__all__ = [
    "RLIMIT_NAMES",
    "STEPS",
    "STEP_NUMBERS",
    "LaunchError",
    "decodeReport",
    "encodeReport",
    "operationName",
]

#: What a child writes when a step fails: step, errno, resource (C ints).
_REPORT = struct.Struct("=iii")

#: The steps of a child, numbered as C{_launch.c} numbers them.
STEPS = {
    1: "sigaction",
    2: "setsid",
    3: "dup2",
    4: "chdir",
    5: "setgroups",
    6: "setgid",
    7: "setrlimit",
    8: "setuid",
    9: "execve",
}
STEP_NUMBERS = {name: number for number, name in STEPS.items()}

RLIMIT_NAMES = {
    getattr(resource, name): name
    for name in dir(resource)
    if name.startswith("RLIMIT_") and name != "RLIMIT_OFILE"
}


class LaunchError(Exception):
    """
    A server could not be started.

    @ivar operation: the step that failed (C{execve}, C{setuid},
        C{setrlimit(RLIMIT_NOFILE)}, C{fork}...).
    @ivar errno: its error number, 0 when there is none.
    @ivar reason: the error's text.
    """

    def __init__(self, operation: str, errorNumber: int, reason: str) -> None:
        super().__init__(operation, errorNumber, reason)
        self.operation = operation
        self.errno = errorNumber
        self.reason = reason

    @classmethod
    def fromErrno(cls, operation: str, errorNumber: int) -> LaunchError:
        return cls(operation, errorNumber, os.strerror(errorNumber))


def operationName(step: int, res: int) -> str:
    """
    The name of a child's step, as the program log shows it.
    """
    name = STEPS.get(step, f"step {step}")
    if name == "setrlimit":
        return f"setrlimit({RLIMIT_NAMES.get(res, res)})"
    return name


def encodeReport(step: str, errorNumber: int, res: int = 0) -> bytes:
    """
    What a child writes on its status pipe when C{step} failed.
    """
    return _REPORT.pack(STEP_NUMBERS[step], errorNumber, res)


def decodeReport(data: bytes) -> LaunchError:
    """
    The failure a child reported.
    """
    if len(data) < _REPORT.size:
        return LaunchError("execve", 0, f"a truncated report from the child: {data!r}")
    step, errorNumber, res = _REPORT.unpack_from(data)
    return LaunchError.fromErrno(operationName(step, res), errorNumber)
