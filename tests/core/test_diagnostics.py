# -*- test-case-name: tests.core.test_diagnostics -*-
"""
Tests for L{txinetd.core.diagnostics}: the problems of a configuration, in
the order of its files, bounded in number.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.diagnostics import ConfigError, Diagnostic, Diagnostics, Location, Severity

# --- errors.py ----------------------------------------------------------------


class DiagnosticsTests(SynchronousTestCase):
    def test_strings(self) -> None:
        """
        A diagnostic reads C{path:line: severity: message}; without a
        location, C{severity: message}.
        """
        self.assertEqual(
            str(Diagnostic(Severity.WARNING, "m", Location("a.conf", 3))),
            "a.conf:3: warning: m",
        )
        self.assertEqual(str(Diagnostic(Severity.FATAL, "m")), "fatal: m")

    def test_countAndFatal(self) -> None:
        diagnostics = Diagnostics()
        diagnostics.warning("w")
        diagnostics.error("e")
        self.assertEqual(diagnostics.count(Severity.WARNING, Severity.ERROR), 2)
        self.assertFalse(diagnostics.isFatal)
        diagnostics.fatal("f")
        self.assertTrue(diagnostics.isFatal)

    def test_inFileOrder(self) -> None:
        """
        L{Diagnostics.inFileOrder} sorts by the order in which files were
        noted, then by line; unlocated diagnostics come first and those of
        one line keep their order.
        """
        diagnostics = Diagnostics()
        diagnostics.noteFile("main")
        diagnostics.noteFile("inc")
        diagnostics.noteFile("main")
        diagnostics.error("inc 5", Location("inc", 5))
        diagnostics.error("main 9 first", Location("main", 9))
        diagnostics.warning("main 2", Location("main", 2))
        diagnostics.fatal("nowhere")
        diagnostics.error("main 9 second", Location("main", 9))
        diagnostics.error("unnoted", Location("other", 1))
        self.assertEqual(
            [d.message for d in diagnostics.inFileOrder()],
            ["nowhere", "main 2", "main 9 first", "main 9 second", "inc 5", "unnoted"],
        )
        self.assertEqual(diagnostics.items[0].message, "inc 5")

    def test_configError(self) -> None:
        """
        L{ConfigError}'s text is every diagnostic, one per line.
        """
        items = (
            Diagnostic(Severity.ERROR, "a", Location("x", 1)),
            Diagnostic(Severity.FATAL, "b"),
        )
        error = ConfigError(items)
        self.assertEqual(str(error), "x:1: error: a\nfatal: b")
        self.assertEqual(error.diagnostics, items)
