# -*- test-case-name: tests.builtins.test_simple -*-
"""
txinetd's built-in internal services (echo, discard, chargen, daytime, time;
stream and dgram), registered as L{txinetd.interfaces.IInternalService} plugins.
"""

from __future__ import annotations

from txinetd.builtins import introspect, simple

echoStream = simple.echoStream
echoDgram = simple.echoDgram
discardStream = simple.discardStream
discardDgram = simple.discardDgram
chargenStream = simple.chargenStream
chargenDgram = simple.chargenDgram
daytimeStream = simple.daytimeStream
daytimeDgram = simple.daytimeDgram
timeStream = simple.timeStream
timeDgram = simple.timeDgram
serversStream = introspect.serversStream
servicesStream = introspect.servicesStream
xadminStream = introspect.xadminStream
