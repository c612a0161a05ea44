# -*- test-case-name: tests.integration.test_load -*-
"""
A load generator for tests: a fixed number of TCP connections made by a
bounded pool of threads, each checked against what it should receive.

Its one argument is a JSON plan::

    {"connections": N, "concurrency": C, "timeout": T,
     "kinds": [{"name": "echo", "source": "127.0.0.1", "host": "127.0.0.1",
                "port": P, "send": HEX, "expect": HEX}, ...]}

Connection I is of kind I modulo the number of kinds: it binds its source
address (the port is chosen at connect time, so that the loopback's
TIME_WAIT connections can be reused), connects, sends C{send}, half-closes,
reads until the server closes, and compares what it read with C{expect}.
Each step has C{timeout} seconds.

It prints one JSON object: C{seconds} (the run's wall-clock time),
C{outcomes} (kind -> outcome -> count, where the outcome is C{ok},
C{unexpected} or the name of the error) and C{samples} (kind -> up to five
unexpected replies, as hex).
"""

from __future__ import annotations

import errno
import json
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: Linux's C{IP_BIND_ADDRESS_NO_PORT}, for Pythons that do not name it.
BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)

#: How many unexpected replies are kept per kind.
SAMPLES = 5


@dataclass(frozen=True)
class Kind:
    """
    One kind of connection.

    @ivar name: its name in the report.
    @ivar source: the address the client binds.
    @ivar host: the address it connects to.
    @ivar port: the port it connects to.
    @ivar send: what it sends before half-closing.
    @ivar expect: what it must receive before the server closes.
    """

    name: str
    source: str
    host: str
    port: int
    send: bytes
    expect: bytes

    @classmethod
    def fromPlan(cls, plan: dict[str, Any]) -> Kind:
        return cls(
            plan["name"],
            plan["source"],
            plan["host"],
            int(plan["port"]),
            bytes.fromhex(plan["send"]),
            bytes.fromhex(plan["expect"]),
        )


@dataclass
class Results:
    """
    What the connections met, shared by the threads (under C{lock}).
    """

    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    samples: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: Kind, outcome: str, received: bytes) -> None:
        with self.lock:
            self.outcomes.setdefault(kind.name, Counter())[outcome] += 1
            kept = self.samples.setdefault(kind.name, [])
            if outcome == "unexpected" and len(kept) < SAMPLES:
                kept.append(received.hex())


def exchange(kind: Kind, timeout: float) -> tuple[str, bytes]:
    """
    Make one connection of C{kind}.

    @return: its outcome and what it received.
    """
    received = bytearray()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.setsockopt(socket.IPPROTO_IP, BIND_ADDRESS_NO_PORT, 1)
            sock.bind((kind.source, 0))
            sock.connect((kind.host, kind.port))
            sock.sendall(kind.send)
            sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(65536):
                received += chunk
    except TimeoutError:
        return "timeout", bytes(received)
    except OSError as e:
        return errno.errorcode.get(e.errno or 0, str(e)), bytes(received)
    return ("ok" if received == kind.expect else "unexpected"), bytes(received)


def work(kinds: list[Kind], timeout: float, indexes: Any, results: Results) -> None:
    """
    Make connections until C{indexes} is exhausted.
    """
    for index in indexes:
        kind = kinds[index % len(kinds)]
        outcome, received = exchange(kind, timeout)
        results.add(kind, outcome, received)


def run(plan: dict[str, Any]) -> dict[str, Any]:
    """
    Carry out a plan.

    @return: the report.
    """
    kinds = [Kind.fromPlan(each) for each in plan["kinds"]]
    results = Results()
    indexes = iter(range(int(plan["connections"])))
    timeout = float(plan["timeout"])
    threads = [
        threading.Thread(target=work, args=(kinds, timeout, indexes, results))
        for _ in range(int(plan["concurrency"]))
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "seconds": time.monotonic() - started,
        "outcomes": {name: dict(counts) for name, counts in results.outcomes.items()},
        "samples": results.samples,
    }


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
