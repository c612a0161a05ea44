"""
What the test suite needs from the machine, checked at once before it runs.

C{scripts/setup-tests} runs C{python -m tests.environment} once the Debian
packages are installed.  It prints one line per problem (what is missing and
what the tests that need it do without it) and exits with status 1 if there
is any; setup-tests then fails where every test must run (as root, or with
C{TXINETD_REQUIRE_ALL=1}) and only warns elsewhere, where those tests skip.

Standard library only: it runs before the project's own checks.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator

#: Commands the tests run, with the Debian package that has them.
COMMANDS = {
    "xinetd": "xinetd",
    "rdate": "rdate",
    "nc": "netcat-openbsd",
    "fail2ban-regex": "fail2ban",
    "oidentd": "oidentd",
    "rpcbind": "rpcbind",
    "rpcinfo": "rpcbind",
    "openssl": "openssl",
    "systemd-analyze": "systemd",
    "systemd-socket-activate": "systemd",
    "prlimit": "util-linux",
    "unshare": "util-linux",
    "nsenter": "util-linux",
    "mount": "mount",
    "ip": "iproute2",
}

#: Files the tests read, with the Debian package that has them.
FILES = {
    "/usr/bin/python3": "python3 (servers run as nobody use it)",
    "/etc/services": "netbase",
    "/etc/fail2ban/filter.d/xinetd-fail.conf": "fail2ban",
}

#: Where the tests look for commands: root's PATH.
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: The uid of user nobody the tests expect (Debian's).
NOBODY = 65534


def canBind(family: socket.AddressFamily, host: str, port: int = 0) -> bool:
    """
    Whether a TCP socket of C{family} can be bound to C{host} here.
    """
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, port))
    except OSError:
        return False
    return True


def privilegedPort() -> bool:
    """
    Whether some port below 1024 of 127.0.0.1 can be bound.
    """
    return any(canBind(socket.AF_INET, "127.0.0.1", port) for port in range(900, 1000))


def firstName(address: str) -> str | None:
    """
    The first name /etc/hosts gives C{address}.
    """
    try:
        with open("/etc/hosts") as f:
            for line in f:
                words = line.split("#", 1)[0].split()
                if len(words) >= 2 and words[0] == address:
                    return words[1]
    except OSError:
        return None
    return None


def succeeds(*argv: str) -> bool:
    """
    Whether a command runs and exits with status 0.
    """
    try:
        done = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def tmpfsInNamespace() -> bool:
    """
    Whether a tmpfs can be mounted in a private mount namespace (the full
    disk and rpcbind tests).
    """
    directory = tempfile.mkdtemp(prefix="txinetd-env-")
    try:
        mount = 'mount -t tmpfs -o size=16k txinetd-env "$0"'
        return succeeds(
            "unshare", "--mount", "--propagation", "private", "sh", "-c", mount, directory
        )
    finally:
        os.rmdir(directory)


def networkNamespace() -> bool:
    """
    Whether a network namespace with its loopback up can be made (the
    demo, rpcbind and differential tests).
    """
    return succeeds("unshare", "--net", "sh", "-c", "ip link set lo up")


def groupExists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def nobodyUid() -> int | None:
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return None


def problems() -> Iterator[str]:
    """
    Every missing piece, as a line that says what the tests lack.
    """
    root = os.geteuid() == 0
    if not root:
        yield (
            "not root: the tests that start servers as other users, bind ports below 1024 "
            "or make namespaces skip"
        )
    for command, package in COMMANDS.items():
        if shutil.which(command, path=PATH) is None:
            yield f"{command} is missing (Debian package {package})"
    for path, package in FILES.items():
        if not os.path.exists(path):
            yield f"{path} is missing (Debian package {package})"
    if nobodyUid() != NOBODY:
        yield f"user nobody is not uid {NOBODY}"
    if not groupExists("daemon"):
        yield "there is no group daemon"
    if firstName("127.0.0.1") != "localhost":
        yield (
            "/etc/hosts does not name 127.0.0.1 localhost first "
            "(the tests of host names would need a resolver)"
        )
    checks: list[tuple[Callable[[], bool], str]] = [
        (lambda: canBind(socket.AF_INET6, "::1"), "no IPv6 loopback: ::1 cannot be bound"),
        (lambda: canBind(socket.AF_INET, "127.0.0.2"), "127.0.0.2 cannot be bound"),
    ]
    if root:
        checks += [
            (privilegedPort, "no port below 1024 of 127.0.0.1 can be bound"),
            (networkNamespace, "no network namespace can be made (unshare --net)"),
            (tmpfsInNamespace, "no tmpfs can be mounted in a mount namespace (unshare --mount)"),
        ]
    for check, problem in checks:
        if not check():
            yield problem


def main() -> int:
    os.environ["PATH"] = PATH
    found = list(problems())
    for problem in found:
        print(f"test environment: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
