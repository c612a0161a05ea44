# -*- test-case-name: tests.test_conftest -*-
"""
Tests for L{tests.conftest}: where every test must run, a skip fails the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

from twisted.trial.unittest import SynchronousTestCase

from tests.conftest import REQUIRE_ALL, requireAll

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: pytest with the suite's hooks and nothing else.
PYTEST = (sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "tests.conftest", "-q")

#: A test module with a passing test and three ways of skipping.
SKIPPING = """\
import pytest
from twisted.trial.unittest import SkipTest, TestCase

class Raised(TestCase):
    def test_skips(self):
        raise SkipTest("no such package")

    def test_passes(self):
        pass

class Attribute(TestCase):
    skip = "needs root"

    def test_skipped(self):
        pass

def test_plain():
    pytest.skip("no IPv6 loopback")
"""


class RequireAllTests(SynchronousTestCase):
    """
    L{requireAll} reads C{TXINETD_REQUIRE_ALL}, then C{CI}.
    """

    def test_variable(self) -> None:
        self.assertEqual(
            [
                requireAll({}),
                requireAll({"CI": "true"}),
                requireAll({"CI": "1"}),
                requireAll({REQUIRE_ALL: "1"}),
                requireAll({REQUIRE_ALL: "0", "CI": "true"}),
                requireAll({REQUIRE_ALL: "1", "CI": "false"}),
            ],
            [False, True, False, True, False, True],
        )


class SkipsTests(SynchronousTestCase):
    """
    The hooks, run by a real pytest on a module whose tests skip.
    """

    def runPytest(self, value: str) -> tuple[int, str]:
        directory = tempfile.mkdtemp(prefix="txinetd-conftest-")
        self.addCleanup(shutil.rmtree, directory)
        with open(os.path.join(directory, "test_skipping.py"), "w") as f:
            f.write(SKIPPING)
        environ = {**os.environ, REQUIRE_ALL: value}
        environ.pop("CI", None)
        done = subprocess.run(
            [*PYTEST, "--rootdir", directory, directory],
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return done.returncode, done.stdout

    def test_skipsFail(self) -> None:
        """
        With C{TXINETD_REQUIRE_ALL=1} every skip is a failure that gives the
        skip's reason, and pytest exits with status 1.
        """
        status, output = self.runPytest("1")
        self.assertEqual(status, 1, output)
        self.assertIn("3 failed, 1 passed", output)
        for reason in ("no such package", "needs root", "no IPv6 loopback"):
            self.assertIn(f"requires it to run: {reason}", output)

    def test_skipsAllowed(self) -> None:
        """
        With C{TXINETD_REQUIRE_ALL=0} the tests skip and the run passes.
        """
        status, output = self.runPytest("0")
        self.assertEqual(status, 0, output)
        self.assertIn("1 passed, 3 skipped", output)
