"""
txinetd's sockets: listening sockets and what reads them, accepted
connections that nothing owns yet, the sockets systemd passes, TLS in front
of a connection, and the relay between two connections.
"""
