"""
xinetd, the extended internet super-server, as a Twisted application.
"""

__version__ = "0.1.0"
