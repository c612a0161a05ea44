# -*- test-case-name: tests.test_documented -*-
"""
The limits the documentation states, as literals.

Tests that check a limit take it from here, never from the code's
constants: a constant changed in the code then fails its test instead of
silently making the documentation wrong.  L{tests.test_documented} checks
that the page that states each of them still says it, in the words of
L{DOCUMENTED_PHRASES}.
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

#: How the documentation says each limit (its blanks and line breaks as one
#: space), by the page that says it (a path from the top of the checkout).
DOCUMENTED_PHRASES = {
    "docs/tls-and-sockets.md": (f"no handshake within {TLS_HANDSHAKE_SECONDS} seconds",),
    "docs/differences.md": (
        f"At most {MAX_DIAGNOSTICS // 1000} 000 problems are reported",
        f"at most {MAX_INCLUDE_DEPTH} levels of includes, {MAX_FILES} files and "
        f"{MAX_SIZE // 2**20} MiB",
        f"a line of more than {MAX_LINE // 1000} {MAX_LINE % 1000} characters",
        f"must be a regular file of at most {MAX_SIZE // 2**20} MiB",
    ),
}
