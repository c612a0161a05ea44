"""
txinetd's own internal services (echo, discard, chargen, daytime, time;
servers, services, xadmin), made and registered as any third party makes
and registers one (see L{txinetd.interfaces.IInternalService}).
"""
