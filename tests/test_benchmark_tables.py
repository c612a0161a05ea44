# -*- test-case-name: tests.test_benchmark_tables -*-
"""
The performance tables of docs/performance.md are those that
C{benchmarks/tables} makes from the committed results they name
(C{benchmarks/txbench/tables.py}).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

from twisted.trial.unittest import SynchronousTestCase

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, "docs", "performance.md")


def tables(*arguments: str) -> subprocess.CompletedProcess[str]:
    """
    Run C{benchmarks/tables} (its Python module) with C{arguments}.
    """
    return subprocess.run(
        [sys.executable, "-m", "txbench.tables", *arguments],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "benchmarks")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TablesTests(SynchronousTestCase):
    def test_current(self) -> None:
        """
        The page names at least one committed result, and its tables are
        exactly what that result gives.
        """
        with open(PAGE, encoding="utf-8") as f:
            text = f.read()
        named = [
            path
            for mark in re.findall(r"<!-- benchmarks/tables: (.+?) -->", text)
            for path in mark.replace("; before:", " ").split()
        ]
        self.assertNotEqual(named, [])
        for path in named:
            self.assertTrue(os.path.isfile(os.path.join(ROOT, "benchmarks", path)), path)
        done = tables("--check")
        self.assertEqual((done.returncode, done.stderr), (0, ""))

    def test_editedByHand(self) -> None:
        """
        A figure changed by hand in the page's table is found, and
        C{benchmarks/tables} puts the result's figure back.
        """
        directory = tempfile.mkdtemp(prefix="txinetd-tables-")
        self.addCleanup(shutil.rmtree, directory)
        copy = os.path.join(directory, "performance.md")
        with open(PAGE, encoding="utf-8") as f:
            original = f.read()
        row = re.search(
            r"^\| internal echo, TCP, 1 concurrent \| conn/s \| (\d+) \|", original, re.M
        )
        assert row is not None
        edited = original.replace(row[0], row[0].replace(row[1], str(int(row[1]) + 1)), 1)
        with open(copy, "w", encoding="utf-8") as f:
            f.write(edited)
        done = tables("--check", "--page", copy)
        self.assertEqual(done.returncode, 1)
        self.assertIn("not those of their results", done.stderr)
        self.assertEqual(tables("--page", copy).returncode, 0)
        with open(copy, encoding="utf-8") as f:
            self.assertEqual(f.read(), original)

    def test_beforeAndAfter(self) -> None:
        """
        A mark that names earlier results gets each row's reading in them
        beside this result's: the external rows of bbf35cb (0.89x, 1.11x,
        0.74x, 1.18x tcpserver) beside those of 7ea2faa, with its spawner
        processes (0.64x, 1.24x, 0.57x, 0.99x).
        """
        directory = tempfile.mkdtemp(prefix="txinetd-tables-")
        self.addCleanup(shutil.rmtree, directory)
        copy = os.path.join(directory, "performance.md")
        with open(copy, "w", encoding="utf-8") as f:
            f.write(
                "<!-- benchmarks/tables: results/20261207T042030Z.json; "
                "before: results/20261207T043120Z.json -->\n"
                "<!-- end of benchmarks/tables -->\n"
            )
        done = tables("--page", copy)
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        with open(copy, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("| scenario | target | before: 2026-12-07 (7ea2faa) | after | met |", text)
        for title, before, after, met in [
            ("user root, 1 concurrent", "0.64x", "0.89x", "**no**"),
            ("user root, 8 concurrent", "1.24x", "1.11x", "yes"),
            ("user nobody + 2 rlimits, 1 concurrent", "0.57x", "0.74x", "**no**"),
            ("user nobody + 2 rlimits, 8 concurrent", "0.99x", "1.18x", "yes"),
        ]:
            self.assertIn(
                f"| external /bin/cat, {title} | txinetd >= 1x tcpserver | {before} | {after} "
                f"| {met} |",
                text,
            )
        # A row the earlier result does not have is left blank there.
        self.assertRegex(text, r"\| internal echo, TCP, 1 concurrent \| [^|]+ \|  \| [0-9.]+x \|")
        done = tables("--check", "--page", copy)
        self.assertEqual((done.returncode, done.stderr), (0, ""))
