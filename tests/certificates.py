"""
Certificates for the TLS tests, made fresh in a directory: a CA, a server
certificate for C{localhost} and 127.0.0.1, one for another name, and a
client certificate, each as PEM files.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.internet.ssl import Certificate, CertificateOptions

from txinetd.core.endpoint import TLSSettings
from txinetd.net.tls import serverOptions

_Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Issued:
    """
    A certificate and its key, written to C{certificate} and C{key}.
    """

    certificate: str
    key: str
    subject: x509.Name


def _name(**parts: str) -> x509.Name:
    oids = {"C": NameOID.COUNTRY_NAME, "O": NameOID.ORGANIZATION_NAME, "CN": NameOID.COMMON_NAME}
    return x509.Name([x509.NameAttribute(oids[key], value) for key, value in parts.items()])


def _write(path: str, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
    return path


def _keyPem(key: _Key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class Authority:
    """
    A CA that issues certificates into a directory.
    """

    def __init__(
        self, directory: str, name: str = "txinetd test CA", issuer: Authority | None = None
    ) -> None:
        """
        @param issuer: the CA that signs this one (an intermediate), or
            L{None} for a self-signed root.
        """
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = _name(O="txinetd tests", CN=name)
        now = datetime.datetime.now(datetime.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name if issuer is None else issuer.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key if issuer is None else issuer.key, hashes.SHA256())
        )
        slug = name.replace(" ", "-")
        self.path = _write(
            os.path.join(directory, f"{slug}.pem"),
            self.certificate.public_bytes(serialization.Encoding.PEM),
        )

    def issue(
        self,
        label: str,
        subject: x509.Name,
        names: tuple[str, ...] = (),
        client: bool = False,
        combined: bool = False,
    ) -> Issued:
        """
        A certificate for C{subject} with C{names} (DNS names or IP
        addresses) as its subjectAltName.

        @param combined: write the key into the certificate's file too.
        """
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
                ),
                critical=False,
            )
        )
        if names:
            alternatives: list[x509.GeneralName] = []
            for name in names:
                try:
                    alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
                except ValueError:
                    alternatives.append(x509.DNSName(name))
            builder = builder.add_extension(x509.SubjectAlternativeName(alternatives), False)
        certificate = builder.sign(self.key, hashes.SHA256())
        pem = certificate.public_bytes(serialization.Encoding.PEM)
        keyPath = os.path.join(self.directory, f"{label}.key")
        certificatePath = os.path.join(self.directory, f"{label}.pem")
        if combined:
            _write(certificatePath, pem + _keyPem(key))
            return Issued(certificatePath, certificatePath, subject)
        _write(keyPath, _keyPem(key))
        _write(certificatePath, pem)
        return Issued(certificatePath, keyPath, subject)

    def server(self, label: str, *names: str) -> Issued:
        return self.issue(label, _name(CN=names[0] if names else label), names)

    def client(self, label: str, commonName: str) -> Issued:
        return self.issue(label, _name(C="PL", O="Example, Inc.", CN=commonName), client=True)


def localhostServer(directory: str) -> tuple[CertificateOptions, Certificate]:
    """
    A new test CA in C{directory}: txinetd's TLS server options with a
    certificate it issued for C{localhost}, and the CA as a client's
    trust root.
    """
    authority = Authority(directory)
    issued = authority.server("server", "localhost")
    with open(authority.path, "rb") as f:
        trust = Certificate.loadPEM(f.read())
    return serverOptions(TLSSettings(issued.certificate, issued.key)), trust
