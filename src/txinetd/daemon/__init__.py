"""
What runs once per daemon: the service tree and its reconfiguration,
housekeeping (the state dump, the consistency check, the SENSOR list's
expiry, the pid file), the log targets, and reading the configuration
files.
"""
