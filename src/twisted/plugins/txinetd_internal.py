# -*- test-case-name: tests.test_internal -*-
"""
txinetd's built-in internal services (echo, discard, chargen, daytime, time;
stream and dgram), registered as L{txinetd.interfaces.IInternalService} plugins.
"""

from __future__ import annotations

from txinetd import internal, introspect

echoStream = internal.echoStream
echoDgram = internal.echoDgram
discardStream = internal.discardStream
discardDgram = internal.discardDgram
chargenStream = internal.chargenStream
chargenDgram = internal.chargenDgram
daytimeStream = internal.daytimeStream
daytimeDgram = internal.daytimeDgram
timeStream = internal.timeStream
timeDgram = internal.timeDgram
serversStream = introspect.serversStream
servicesStream = introspect.servicesStream
xadminStream = introspect.xadminStream
