"""
Starting external servers: each a child of the daemon that sets its own
ids, limits and descriptors before it executes the server (the C extension
C{_launch}, or a fork where it is not built), watched until it is reaped.
"""
