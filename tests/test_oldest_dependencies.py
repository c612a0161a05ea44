"""
The tests that depend most on Twisted, run again with the oldest release of
each dependency txinetd supports (the lower bounds in pyproject.toml: see
L{tests.dependencies}), which scripts/setup-tests installs in
C{.venv-oldest}: TLS (whose bulk and in-process paths use Twisted's TLS
protocol from inside), the redirect relay, the PROXY header (Twisted's
parsers), the daemon under twistd and its logs.  The main run uses the
newest releases; what differs between the two (the TLS factory's
connection maker, the TCP options of a UNIX socket) is exercised by both.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from twisted.trial.unittest import SkipTest, TestCase

from tests.dependencies import lowerBounds
from tests.paths import ROOT

#: The virtualenv with the oldest supported releases.
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

#: Prints the installed version of each distribution named on its command line.
_VERSIONS = (
    "import importlib.metadata, json, sys; "
    "print(json.dumps({n: importlib.metadata.version(n) for n in sys.argv[1:]}))"
)


def _release(version: str) -> tuple[int, ...]:
    """
    A version's numbers, without trailing zeros (C{23.10} is C{23.10.0}).
    """
    numbers = [int(part) for part in version.split(".")]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


class OldestDependenciesTests(TestCase):
    def setUp(self) -> None:
        if not os.access(OLDEST, os.X_OK):
            raise SkipTest("scripts/setup-tests makes .venv-oldest, with the oldest releases")

    def test_installed(self) -> None:
        """
        C{.venv-oldest} has the lower bound of each dependency.
        """
        bounds = lowerBounds()
        installed = json.loads(
            subprocess.run(
                [OLDEST, "-c", _VERSIONS, *bounds],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout
        )
        self.assertEqual(
            {name: _release(version) for name, version in installed.items()},
            {name: _release(version) for name, (_, version) in bounds.items()},
        )

    @pytest.mark.timeout(SECONDS + 60)
    def test_twistedBoundTests(self) -> None:
        """
        The Twisted-bound tests pass with the oldest releases.
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
        self.assertEqual(done.returncode, 0, f"with the oldest releases:\n{tail}")
