# -*- test-case-name: tests.test_documented -*-
"""
Tests for L{tests.documented}: the documentation states the limits the
tests check.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from tests.documented import DOCUMENTED_PHRASES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class DocumentedTests(SynchronousTestCase):
    def test_limitsStated(self) -> None:
        """
        Each limit the tests take from L{tests.documented} is on its page,
        as written there.
        """
        missing: list[tuple[str, str]] = []
        for page, phrases in DOCUMENTED_PHRASES.items():
            with open(os.path.join(ROOT, page), encoding="utf-8") as f:
                text = " ".join(f.read().split())
            missing.extend((page, phrase) for phrase in phrases if phrase not in text)
        self.assertEqual(missing, [])
