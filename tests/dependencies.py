"""
The lower bounds of txinetd's dependencies in pyproject.toml, which
scripts/setup-tests installs in C{.venv-oldest}:
C{python3 -m tests.dependencies} prints them as pins (C{name==version}),
one per line.
"""

from __future__ import annotations

import re
import sys
import tomllib

from tests.paths import ROOT

#: A dependency with a lower bound alone, as pyproject.toml writes them.
_BOUNDED = re.compile(r"(?P<name>[A-Za-z0-9_.-]+)(?P<extras>\[[a-z,]+\])?>=(?P<version>[0-9.]+)")


def lowerBounds() -> dict[str, tuple[str, str]]:
    """
    Each dependency's name, with its extras and its oldest version.

    @raise ValueError: if one has no lower bound, or more than one.
    """
    with open(f"{ROOT}/pyproject.toml", "rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    bounds = {}
    for dependency in dependencies:
        found = _BOUNDED.fullmatch(dependency)
        if found is None:
            raise ValueError(f"no lower bound alone in {dependency!r}")
        bounds[found["name"]] = (found["extras"] or "", found["version"])
    return bounds


def main() -> int:
    try:
        bounds = lowerBounds()
    except ValueError as e:
        print(f"pyproject.toml: {e}", file=sys.stderr)
        return 1
    for name, (extras, version) in bounds.items():
        print(f"{name}{extras}=={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
