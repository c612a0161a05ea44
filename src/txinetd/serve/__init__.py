"""
Serving one connection or datagram: the admission path in front of every
service (limits, look-ups, access rules, banners, TLS, ident), the session
from admission to its end, and the runner of each kind of service
(internal, external server, redirect, tcpmux), with the portmapper
registration of RPC services.
"""
