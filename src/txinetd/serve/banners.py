# -*- test-case-name: tests.serve.test_banners -*-
"""
Banner files (C{banner}, C{banner_success}, C{banner_fail}): read safely.

xinetd reads a banner file for every connection, in the daemon, with
blocking reads: a FIFO as a banner stops every service until someone
writes to it, and C{/dev/zero} would be read without end.  txinetd reads a
banner only off the reactor thread (L{readBanners}), again for each connection, so
that an edit shows at once; and only a regular file of at most
L{MAX_BANNER} bytes.  A configuration whose banner is something else is
refused at load (L{bannerProblem}).
"""

from __future__ import annotations

import os
import stat

from twisted.internet.defer import Deferred

from txinetd.serve.lookups import BlockingRunner

__all__ = ["MAX_BANNER", "BannerError", "bannerProblem", "readBanner", "readBanners"]


#: The largest banner, in bytes.
MAX_BANNER = 64 * 1024

_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class BannerError(Exception):
    """
    A banner file that cannot or may not be read; the message says why.

    @ivar refused: whether txinetd refuses the file (not a regular file,
        too large) rather than failing to open it.
    """

    def __init__(self, reason: str, refused: bool = False) -> None:
        super().__init__(reason)
        self.refused = refused


def readBanner(path: str) -> bytes:
    """
    A banner file's bytes.  This may block on a slow file system: call it
    off the reactor thread.  Opening never blocks (a FIFO is refused, not
    waited for).

    @raise BannerError: if it cannot be opened or read, is not a regular
        file, or is larger than L{MAX_BANNER}.
    """
    try:
        fd = os.open(path, _FLAGS)
    except (OSError, ValueError) as e:
        raise BannerError(getattr(e, "strerror", None) or str(e)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BannerError("not a regular file", refused=True)
        chunks = []
        left = MAX_BANNER + 1
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise BannerError(f"larger than {MAX_BANNER} bytes", refused=True)
        return b"".join(chunks)
    except OSError as e:
        raise BannerError(e.strerror or str(e)) from None
    finally:
        os.close(fd)


def bannerProblem(path: str) -> str | None:
    """
    Why a configuration may not name C{path} as a banner: it is not a
    regular file (a FIFO, a device, a directory) or is too large.  A file
    that is missing or cannot be opened now is no problem at load: it is
    tried again at each connection, as xinetd does.
    """
    try:
        readBanner(path)
    except BannerError as e:
        return str(e) if e.refused else None
    return None


def readBanners(
    blocking: BlockingRunner, paths: tuple[str, ...]
) -> Deferred[tuple[bytes, tuple[str, ...]]]:
    """
    The bytes of banner files, one after the other, read with C{blocking}
    (off the reactor thread: a file system may block).

    @return: fires with the bytes, and the paths of the files that could
        not be read (left out).
    """
    return blocking(lambda: _readAll(paths))


def _readAll(paths: tuple[str, ...]) -> tuple[bytes, tuple[str, ...]]:
    read = []
    failed = []
    for path in paths:
        try:
            read.append(readBanner(path))
        except BannerError:
            failed.append(path)
    return b"".join(read), tuple(failed)
