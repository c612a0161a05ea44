"""
txinetd's pure core: configuration text to records, records to verdicts,
events to log lines.  Standard library only: no reactor, and no I/O but
through the system look-ups a caller injects (L{txinetd.core.attributes.SystemInfo}).
"""
