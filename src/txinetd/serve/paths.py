# -*- test-case-name: tests.serve.test_admission -*-
"""
Running an admission path (L{txinetd.serve.admission.Admission._admit}): a
coroutine that awaits L{Deferred}s, driven without a L{Deferred} of its own.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

__all__ = ["runPath"]


def runPath(path: Coroutine[Deferred[Any], Any, None]) -> None:
    """
    Run an admission path to its end: at once as long as what it awaits
    has already fired (the common case: nothing to look up, no banner, no
    TLS, no ident), else each time what it waits for fires.  Lighter than
    L{Deferred.fromCoroutine}, which makes a L{Deferred} for every path;
    the path catches its own errors and nobody waits for its end.
    """
    _resume(path, None, None)


def _resume(
    path: Coroutine[Deferred[Any], Any, None], result: object, error: BaseException | None
) -> None:
    try:
        awaited = path.send(result) if error is None else path.throw(error)
    except StopIteration:
        return
    awaited.addCallbacks(_sent, _thrown, callbackArgs=(path,), errbackArgs=(path,))


def _sent(result: object, path: Coroutine[Deferred[Any], Any, None]) -> None:
    _resume(path, result, None)


def _thrown(failure: Failure, path: Coroutine[Deferred[Any], Any, None]) -> None:
    _resume(path, None, failure.value)
