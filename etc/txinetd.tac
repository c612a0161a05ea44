# -*- test-case-name: tests.integration.test_operating -*-
"""
txinetd as a twistd application file: the service tree that
C{twistd -n xinetd -f <file>} builds, for C{twistd -ny etc/txinetd.tac}.

The configuration file is C{$TXINETD_CONFIG}, by default the demo
configuration beside this file (etc/demo.conf).  More of txinetd's options
(C{-filelog}, C{-limit}, ...) go in C{$TXINETD_OPTIONS}, split like a
shell command line.  Add other services to C{application} as usual.
"""

import os
import shlex

from twisted.application.service import Application

from txinetd.tap import Options, makeService

options = Options()
options.parseOptions(
    [
        "-f",
        os.environ.get("TXINETD_CONFIG", os.path.join(os.path.dirname(__file__), "demo.conf")),
        *shlex.split(os.environ.get("TXINETD_OPTIONS", "")),
    ]
)
application = Application("txinetd")
makeService(options).setServiceParent(application)
