"""
txinetd's benchmark harness: txinetd, xinetd, tcpserver and stunnel side by side on
loopback (see benchmarks/README.md).  Only the standard library is used.
"""
