"""
Tests for L{txinetd.core.connectionenv}: tcpserver's and systemd's
variables (the integration tests compare them with the real tcpserver).
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.connectionenv import (
    ConnectionFacts,
    connectionVariables,
    remoteInfo,
    variableNames,
)
from txinetd.core.proxyprotocol import ConnectionEnv

BOTH = frozenset(ConnectionEnv)


class VariablesTests(SynchronousTestCase):
    def test_ipv4(self) -> None:
        facts = ConnectionFacts(("192.0.2.1", 4000), ("192.0.2.2", 79), "client.example", "alice")
        self.assertEqual(
            connectionVariables(BOTH, facts),
            {
                "PROTO": "TCP",
                "TCPREMOTEIP": "192.0.2.1",
                "TCPREMOTEPORT": "4000",
                "TCPLOCALIP": "192.0.2.2",
                "TCPLOCALPORT": "79",
                "TCPREMOTEHOST": "client.example",
                "TCPREMOTEINFO": "alice",
                "REMOTE_ADDR": "192.0.2.1",
                "REMOTE_PORT": "4000",
            },
        )

    def test_ipv6(self) -> None:
        """
        ucspi-tcp6's: PROTO=TCP6, and each TCP variable with its TCP6 twin.
        """
        facts = ConnectionFacts(("2001:db8::1", 4000), ("2001:db8::2", 79))
        variables = connectionVariables(frozenset({ConnectionEnv.UCSPI}), facts)
        self.assertEqual(variables["PROTO"], "TCP6")
        for prefix in ("TCP", "TCP6"):
            self.assertEqual(variables[f"{prefix}REMOTEIP"], "2001:db8::1")
            self.assertEqual(variables[f"{prefix}LOCALPORT"], "79")
        self.assertNotIn("TCPREMOTEHOST", variables)
        self.assertNotIn("REMOTE_ADDR", variables)

    def test_noAddress(self) -> None:
        self.assertEqual(connectionVariables(BOTH, ConnectionFacts(None, None)), {})

    def test_names(self) -> None:
        """
        Every name either set may set is withheld from txinetd's own
        environment.
        """
        facts = ConnectionFacts(("2001:db8::1", 1), ("2001:db8::2", 2), "a", "b")
        self.assertLessEqual(set(connectionVariables(BOTH, facts)), set(variableNames(BOTH)))
        self.assertEqual(variableNames(frozenset()), ())

    def test_remoteInfo(self) -> None:
        self.assertEqual(remoteInfo("UNIX : alice"), "alice")
        self.assertEqual(remoteInfo("X509 : O=Example, CN=alice"), "O=Example, CN=alice")
        self.assertEqual(remoteInfo("alice"), "alice")
        # No space around the colon, or a colon in the user.
        self.assertEqual(remoteInfo("UNIX :bob"), "bob")
        self.assertEqual(remoteInfo("UNIX:bob"), "bob")
        self.assertEqual(remoteInfo("OTHER : a:b"), "a:b")
