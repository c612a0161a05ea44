# -*- test-case-name: tests.test_documented -*-
"""
The limits the README states, as literals.

Tests that check a limit take it from here, never from the code's
constants: a constant changed in the code then fails its test instead of
silently making the README wrong.  L{tests.test_documented} checks that the
README still says each of them, in the words of L{README_PHRASES}.
"""

from __future__ import annotations

#: Seconds a TLS client has to finish its handshake.
TLS_HANDSHAKE_SECONDS = 30

#: Diagnostics reported before the rest are only counted.
MAX_DIAGNOSTICS = 10_000

#: Levels of nested includes, files and bytes a configuration reads.
MAX_INCLUDE_DEPTH = 16
MAX_FILES = 4096
MAX_SIZE = 16 * 1024 * 1024

#: Characters of a configuration line (a longer one loses its entry).
MAX_LINE = 16_384

#: How the README says each limit (its blanks and line breaks as one space).
README_PHRASES = (
    f"no handshake within {TLS_HANDSHAKE_SECONDS} seconds",
    f"At most {MAX_DIAGNOSTICS // 1000} 000 problems are reported",
    f"at most {MAX_INCLUDE_DEPTH} levels of includes, {MAX_FILES} files and "
    f"{MAX_SIZE // 2**20} MiB",
    f"a line of more than {MAX_LINE // 1000} {MAX_LINE % 1000} characters",
    f"must be a regular file of at most {MAX_SIZE // 2**20} MiB",
)
