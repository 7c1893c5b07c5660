"""Rule: throwaway CA, server certs and an ES256 token signer; private keys written 0600."""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CA",
    "Signer",
    "b64url",
    "libtrust_key_id",
    "load_signer",
    "make_ca",
    "make_token_signer",
]

_DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")


def b64url(data: bytes) -> str:
    """Base64url without padding (JOSE encoding)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _validity() -> tuple[datetime.datetime, datetime.datetime]:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now - datetime.timedelta(hours=1), now + datetime.timedelta(days=30)


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """libtrust key ID: SHA-256(DER SPKI)[:30], base32 unpadded, 12 groups of 4 joined by ':'."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii").rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))


def _san(names: Iterable[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


@dataclass
class CA:
    """A self-signed CA; ``cert_path`` is the PEM to trust (e.g. skopeo's ``ca.crt``)."""

    cert_path: Path
    key_path: Path
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def issue_server_cert(
        self, directory: str | os.PathLike[str], names: Iterable[str] = _DEFAULT_NAMES
    ) -> tuple[Path, Path]:
        """Issue a TLS server cert for ``names`` (DNS names or IPs); return (cert, key) paths."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        names = tuple(names)
        key = ec.generate_private_key(ec.SECP256R1())
        not_before, not_after = _validity()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_san(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        stem = "server" if not (out / "server.crt").exists() else f"server-{os.urandom(3).hex()}"
        cert_path = out / f"{stem}.crt"
        key_path = out / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_private(key_path, _key_pem(key))
        return cert_path, key_path


def _self_signed(
    directory: str | os.PathLike[str], stem: str, common_name: str, usage: x509.KeyUsage | None = None
) -> tuple[Path, Path, x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A fresh EC P-256 key and a self-signed CA:TRUE certificate, written as ``<stem>.crt`` and
    ``<stem>.key`` (0600) in ``directory``; with ``usage``, also that key usage (critical) and a
    subject key identifier, as a CA has."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    not_before, not_after = _validity()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True).add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    cert = builder.sign(key, hashes.SHA256())
    cert_path = out / f"{stem}.crt"
    key_path = out / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(key_path, _key_pem(key))
    return cert_path, key_path, cert, key


def make_ca(directory: str | os.PathLike[str], common_name: str = "regauth test CA") -> CA:
    """Create a CA (basicConstraints critical CA:TRUE) as ``ca.crt``/``ca.key`` in ``directory``."""
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    cert_path, key_path, cert, key = _self_signed(directory, "ca", common_name, usage)
    return CA(cert_path=cert_path, key_path=key_path, cert=cert, key=key)


@dataclass
class Signer:
    """ES256 token signer; ``cert_path`` is a self-signed PEM usable as ``rootcertbundle``."""

    cert_path: Path
    key_path: Path
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def kid(self) -> str:
        """libtrust key ID of the public key (what distribution derives from the bundle)."""
        return libtrust_key_id(self.key.public_key())

    @property
    def x5c(self) -> list[str]:
        """JOSE ``x5c`` chain: standard base64 DER of the signer certificate."""
        der = self.cert.public_bytes(serialization.Encoding.DER)
        return [base64.b64encode(der).decode("ascii")]

    def sign(self, claims: Mapping[str, Any], header_style: str = "kid") -> str:
        """Compact JWS (ES256, raw r||s); ``header_style`` is ``kid``, ``x5c`` or ``both``."""
        header: dict[str, Any] = {"typ": "JWT", "alg": "ES256"}
        if header_style in ("kid", "both"):
            header["kid"] = self.kid
        if header_style in ("x5c", "both"):
            header["x5c"] = self.x5c
        if header_style not in ("kid", "x5c", "both"):
            raise ValueError(f"unknown header style {header_style!r}")
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
        )
        der_sig = self.key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der_sig)
        return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def make_token_signer(
    directory: str | os.PathLike[str], common_name: str = "regauth test token signer"
) -> Signer:
    """Create an EC P-256 key + self-signed cert: ``signer.crt``/``signer.key`` in ``directory``."""
    cert_path, key_path, cert, key = _self_signed(directory, "signer", common_name)
    return Signer(cert_path=cert_path, key_path=key_path, cert=cert, key=key)


def load_signer(cert_path: str | os.PathLike[str], key_path: str | os.PathLike[str]) -> Signer:
    """Load a signer written by :func:`make_token_signer` (used by the token-server process)."""
    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("token signer key must be an EC key")
    return Signer(cert_path=Path(cert_path), key_path=Path(key_path), cert=cert, key=key)
