"""
The soak mode of the fuzzing tests: C{TXINETD_SOAK=1} in the environment
runs L{SOAK_FACTOR} times as many examples.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from hypothesis import HealthCheck, settings

T = TypeVar("T")

SOAK = os.environ.get("TXINETD_SOAK") == "1"
#: How many times more examples a soak run tries.
SOAK_FACTOR = 100


def fuzzed(examples: int) -> Callable[[T], T]:
    """
    Hypothesis settings: C{examples} examples (times L{SOAK_FACTOR} in a
    soak run), no deadline.
    """
    return settings(
        max_examples=examples * SOAK_FACTOR if SOAK else examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
