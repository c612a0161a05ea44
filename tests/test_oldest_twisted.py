"""
The tests that depend most on Twisted, run again with the oldest Twisted
txinetd supports (the lower bound in pyproject.toml), which
scripts/setup-tests installs in C{.venv-oldest}: TLS (whose bulk and
in-process paths use Twisted's TLS protocol from inside), the redirect
relay, the PROXY header (Twisted's parsers), the daemon under twistd and
its logs.  The main run uses the newest Twisted; what differs between the
two (the TLS factory's connection maker, the TCP options of a UNIX socket)
is exercised by both.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from twisted.trial.unittest import SkipTest, TestCase

from tests.paths import ROOT

#: The virtualenv with the oldest supported Twisted.
OLDEST = os.path.join(ROOT, ".venv-oldest", "bin", "python")

#: The tests run again.
TWISTED_BOUND = (
    "tests/net",
    "tests/integration/test_tls.py",
    "tests/integration/test_tls_direct.py",
    "tests/integration/test_redirect.py",
    "tests/integration/test_proxy.py",
    "tests/integration/test_stayalive.py",
    "tests/integration/test_twistd.py",
    "tests/integration/test_logging.py",
)

#: How long they may take (about one minute on 2 CPUs).
SECONDS = 600


def lowerBound() -> str:
    """
    The oldest Twisted pyproject.toml admits.
    """
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        found = re.search(r'"twisted\[tls\]>=([0-9.]+)"', f.read())
    assert found is not None, "no lower bound for twisted[tls] in pyproject.toml"
    return found.group(1)


def _release(version: str) -> tuple[int, ...]:
    """
    A version's numbers, without trailing zeros (C{23.10} is C{23.10.0}).
    """
    numbers = [int(part) for part in version.split(".")]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


class OldestTwistedTests(TestCase):
    def setUp(self) -> None:
        if not os.access(OLDEST, os.X_OK):
            raise SkipTest("scripts/setup-tests makes .venv-oldest, with the oldest Twisted")

    def test_installed(self) -> None:
        """
        C{.venv-oldest} has the lower bound of pyproject.toml.
        """
        installed = subprocess.run(
            [OLDEST, "-c", "import twisted; print(twisted.__version__)"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        self.assertEqual(_release(installed), _release(lowerBound()))

    @pytest.mark.timeout(SECONDS + 60)
    def test_twistedBoundTests(self) -> None:
        """
        The Twisted-bound tests pass with the oldest Twisted.
        """
        done = subprocess.run(
            [OLDEST, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TWISTED_BOUND],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=SECONDS,
            check=False,
        )
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        self.assertEqual(done.returncode, 0, f"with the oldest Twisted:\n{tail}")
