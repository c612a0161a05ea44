"""
What the monitoring observers cost per connection: the events of one
served session (START and EXIT) and of one refusal (FAIL) given to the
metrics tally (C{--metrics}) and to the JSON event log (C{--json-log},
writing to a file), against an empty observer, in microseconds.

    .venv/bin/python benchmarks/observers.py

The ratios matter, not the figures: compare them with the cost of a whole
connection (benchmarks/run, the internal part: some hundreds of
microseconds of the daemon's time each).
"""

from __future__ import annotations

import os
import tempfile
import timeit
from collections.abc import Callable
from typing import Any

from txinetd.core.events import Exited, Failed, FailReason, Started
from txinetd.daemon.eventlog import EventLog
from txinetd.daemon.metrics import SessionTally

NOW = 1_700_000_000.0
ROUNDS = 5
NUMBER = 20_000

EVENTS = (
    Started("daytime", 0, "192.0.2.1", NOW, 40000, NOW - 0.0005),
    Exited("daytime", 0, "192.0.2.1", 0, None, 0.002, NOW, 40000),
    Failed("daytime", FailReason.ADDRESS, "192.0.2.9", NOW, 40001),
)


def perConnection(observer: Callable[[Any], None]) -> float:
    """
    The best of L{ROUNDS} of the microseconds one connection's events take.
    """

    def connection() -> None:
        for event in EVENTS:
            observer(event)

    best = min(timeit.repeat(connection, number=NUMBER, repeat=ROUNDS))
    return best / NUMBER * 1e6


def main() -> None:
    directory = tempfile.mkdtemp(prefix="txinetd-observers-", dir="/tmp")
    path = os.path.join(directory, "events.json")
    log = EventLog(path)
    try:
        baseline = perConnection(lambda event: None)
        figures = {
            "nothing": baseline,
            "metrics tally": perConnection(SessionTally()),
            "JSON event log": perConnection(log),
        }
    finally:
        log.close()
        os.unlink(path)
        os.rmdir(directory)
    print("observer          us per connection (START, EXIT, FAIL)")
    for name, figure in figures.items():
        print(f"{name:16}  {figure:6.2f}")


if __name__ == "__main__":
    main()
