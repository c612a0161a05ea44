# -*- test-case-name: tests.serve.test_banners -*-
"""
Tests for L{txinetd.serve.banners}: which files are read as banners, within the
bound, never blocking on opening one.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from txinetd.serve.banners import MAX_BANNER, BannerError, bannerProblem, readBanner


class ReadBannerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.base = os.path.abspath(self.mktemp())
        os.makedirs(self.base)

    def file(self, name: str, content: bytes) -> str:
        path = os.path.join(self.base, name)
        with open(path, "wb") as f:
            f.write(content)
        return path

    def refusal(self, path: str) -> tuple[str, bool]:
        with self.assertRaises(BannerError) as caught:
            readBanner(path)
        return str(caught.exception), caught.exception.refused

    def test_regular(self) -> None:
        """
        A regular file is read whole, up to L{MAX_BANNER} bytes.
        """
        content = bytes(range(256)) * (MAX_BANNER // 256)
        self.assertEqual(readBanner(self.file("b", content)), content)
        self.assertEqual(readBanner(self.file("empty", b"")), b"")

    def test_tooLarge(self) -> None:
        path = self.file("b", b"x" * (MAX_BANNER + 1))
        self.assertEqual(self.refusal(path), (f"larger than {MAX_BANNER} bytes", True))
        self.assertEqual(bannerProblem(path), f"larger than {MAX_BANNER} bytes")

    def test_notRegular(self) -> None:
        """
        A FIFO (without a writer: opening it does not wait for one), a
        device and a directory are refused.
        """
        fifo = os.path.join(self.base, "fifo")
        os.mkfifo(fifo)
        for path in (fifo, "/dev/zero", self.base):
            self.assertEqual(self.refusal(path), ("not a regular file", True))
            self.assertEqual(bannerProblem(path), "not a regular file")

    def test_missing(self) -> None:
        """
        A file that cannot be opened fails with the system's reason, and is
        no problem at load (it is tried again at each connection).
        """
        path = os.path.join(self.base, "missing")
        self.assertEqual(self.refusal(path), ("No such file or directory", False))
        self.assertIsNone(bannerProblem(path))
        self.assertEqual(self.refusal("bad\0path")[1], False)
