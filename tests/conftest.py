# -*- test-case-name: tests.test_conftest -*-
"""
pytest hooks of the whole suite.

As root, every test runs in a network namespace of its own whose only
interface is the loopback (L{tests.namespaces}): what it listens on, the
wildcard address included, is reachable from there alone, its ports never
collide with another run's, and nothing it sends leaves the machine.
Without root (or where namespaces cannot be made, outside CI) tests run in
the machine's network.

Where every test must run (CI: C{.ci/run} sets C{TXINETD_REQUIRE_ALL=1}),
a skipped test is a failure: a missing package, no root, no IPv6 loopback
or a namespace that cannot be made would otherwise pass unnoticed.  On a
developer's machine a test may still skip, and says why.

C{TXINETD_REQUIRE_ALL=1} turns this on, C{TXINETD_REQUIRE_ALL=0} off; when
it is not set, C{CI=true} turns it on.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Mapping

import pytest

from tests.namespaces import enterNewNetwork, namespaceId

#: The network namespace the suite started in.
STARTED_IN = namespaceId()

#: The variable that makes every skip a failure.
REQUIRE_ALL = "TXINETD_REQUIRE_ALL"


def requireAll(environ: Mapping[str, str] = os.environ) -> bool:
    """
    Whether every test must run here.
    """
    value = environ.get(REQUIRE_ALL)
    if value is not None:
        return value == "1"
    return environ.get("CI") == "true"


def skipReason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """
    The reason a skipped report gives.
    """
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):
        return str(longrepr[2])
    return str(longrepr)


def failSkip(report: pytest.TestReport | pytest.CollectReport) -> None:
    """
    Turn a skipped report into a failure that says why it skipped.
    """
    if report.skipped and not hasattr(report, "wasxfail") and requireAll():
        reason = skipReason(report).removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = f"skipped, but {REQUIRE_ALL}=1 (or CI=true) requires it to run: {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    failSkip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    failSkip(report)
    return report


@pytest.fixture(autouse=True)
def networkOfItsOwn() -> Iterator[None]:
    """
    Run the test in a new network namespace, as root.
    """
    leave = None
    if os.geteuid() == 0:
        try:
            leave = enterNewNetwork()
        except PermissionError:
            if requireAll():
                raise
    try:
        yield
    finally:
        if leave is not None:
            leave()
