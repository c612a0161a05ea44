"""
txinetd's benchmark harness: txinetd, xinetd and tcpserver side by side on
loopback (see benchmarks/README.md).  Only the standard library is used.
"""
