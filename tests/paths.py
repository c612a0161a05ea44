"""
Where the tests find the project's files, wherever a test module stands.
"""

from __future__ import annotations

import os

#: The tests directory.
TESTS = os.path.dirname(os.path.abspath(__file__))
#: The project's root.
ROOT = os.path.dirname(TESTS)
#: The README.
README = os.path.join(ROOT, "README.md")
#: The seed configurations of the fuzz tests and of the configuration tests.
SEEDS = os.path.join(TESTS, "data", "seeds")
