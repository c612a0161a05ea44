# -*- test-case-name: tests.test_documented -*-
"""
Tests for L{tests.documented}: the README states the limits the tests check.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from tests.documented import README_PHRASES

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


class ReadmeTests(SynchronousTestCase):
    def test_limitsStated(self) -> None:
        """
        Each limit the tests take from L{tests.documented} is in the README,
        as written there.
        """
        with open(README, encoding="utf-8") as f:
            text = " ".join(f.read().split())
        self.assertEqual([phrase for phrase in README_PHRASES if phrase not in text], [])
