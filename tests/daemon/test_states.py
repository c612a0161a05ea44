# -*- test-case-name: tests.daemon.test_states -*-
"""
Tests for L{txinetd.daemon.states}: what the introspection services see of
the daemon.
"""

from __future__ import annotations

import time

from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import INTERNAL_SERVICES, ConfigFiles
from txinetd.builtins.introspect import ServiceLine
from txinetd.core.dump import ServiceState
from txinetd.core.servertable import ServerState
from txinetd.daemon.states import StateView

STARTED = time.mktime((2026, 11, 22, 1, 14, 59, 0, 0, -1))

CONFIG = """\
service xadmin
{
    type = INTERNAL UNLISTED
    port = 9100
    socket_type = stream
    wait = no
    only_from = 127.0.0.1
}
service SERVERS
{
    type = INTERNAL UNLISTED
    port = 9102
    socket_type = stream
    wait = no
    only_from =
}
service echo
{
    type = INTERNAL
    socket_type = stream
    wait = no
}
"""


class StateViewTests(SynchronousTestCase):
    """
    L{StateView} with loaded configurations.
    """

    def test_stateView(self) -> None:
        """
        A L{StateView} lists the active services, where they listen (or
        their configured port), and the running servers.
        """
        files = ConfigFiles(self)
        files.write("xinetd.conf", CONFIG)
        available = INTERNAL_SERVICES | {("servers", "stream"), ("xadmin", "stream")}
        services = {service.id: service for service in files.load(internal=available).services}
        states = [
            ServiceState(services["xadmin"], "Active", 0, ("127.0.0.1", 9100)),
            ServiceState(services["SERVERS"], "Suspended", 0, None),
            ServiceState(services["echo"], "Active", 1, None),
        ]
        servers = [ServerState("echo", 0, "127.0.0.1", STARTED)]
        view = StateView(lambda: states, lambda: servers)
        self.assertEqual(
            view.services(),
            [
                ServiceLine("xadmin", "xadmin", "tcp", 9100, "127.0.0.1"),
                ServiceLine("echo", "echo", "tcp", 7, services["echo"].bindAddress),
            ],
        )
        self.assertEqual(view.servers(), servers)
