# -*- test-case-name: tests.net.test_tlsname -*-
"""
The name check of a TLS connection to a redirect target, made by txinetd
itself during the handshake.

Twisted's C{optionsForClientTLS} checks the target's certificate against
the name with service-identity, but takes only service-identity's
L{VerificationError} as a failure: a certificate that service-identity
cannot check at all, such as one without a subjectAltName (for which it
raises L{CertificateError}), is logged by Twisted 26.10 and then accepted
for any name, provided a trusted CA signed it.  L{NameChecking} wraps
Twisted's client connections with a check of its own, in OpenSSL's
verification of the leaf certificate: anything but a match is a failure,
reported as Twisted reports a mismatch, and the handshake fails before a
byte of the client's is sent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from OpenSSL import SSL
from service_identity import CertificateError, VerificationError
from service_identity.cryptography import (
    verify_certificate_hostname,
    verify_certificate_ip_address,
)
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from twisted.python.failure import Failure
from zope.interface import implementer

__all__ = ["NameChecking", "checkName"]


def checkName(name: str) -> Callable[[Any], None]:
    """
    The check of a certificate (a L{cryptography.x509.Certificate}) against
    C{name}, a host name or a literal IP address.

    @return: a callable that raises L{VerificationError} or
        L{CertificateError} unless the certificate is valid for the name.
    """
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return lambda certificate: verify_certificate_hostname(certificate, name)
    return lambda certificate: verify_certificate_ip_address(certificate, str(address))


@implementer(IOpenSSLClientConnectionCreator)
class NameChecking:
    """
    Twisted's client TLS connections, each with the target's certificate
    checked against the name by txinetd too (see the module's docstring).
    """

    def __init__(self, creator: IOpenSSLClientConnectionCreator, name: str) -> None:
        """
        @param creator: Twisted's creator (C{optionsForClientTLS}) for C{name}.
        """
        self.creator = creator
        self.check = checkName(name)

    def clientConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        connection = self.creator.clientConnectionForTLS(tlsProtocol)
        check = self.check
        # The protocol holds the connection, which holds this callback:
        # the reference is dropped once the leaf is checked.
        protocols = [tlsProtocol]

        def verify(conn: SSL.Connection, certificate: Any, error: int, depth: int, ok: int) -> bool:
            if not ok or depth != 0:
                # OpenSSL's verdict on the chain stands; the name is the
                # leaf's (the last one verified).
                return bool(ok)
            try:
                check(certificate.to_cryptography())
            except (VerificationError, CertificateError) as e:
                if protocols:
                    protocols.pop().failVerification(Failure(e))  # type: ignore[no-untyped-call]
                return False
            except Exception as e:
                # A certificate that cannot be read is not valid either.
                if protocols:
                    reason = Failure(CertificateError(str(e)))  # type: ignore[no-untyped-call]
                    protocols.pop().failVerification(reason)
                return False
            protocols.clear()
            return True

        connection.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, verify)
        return connection
