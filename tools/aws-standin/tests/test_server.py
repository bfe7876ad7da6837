"""The provider process as Terraform starts it: the go-plugin handshake line, TLS with the
certificate the built tool made once, and the schema it answers from the caches the build
wrote (each the same as what it would compute from schema/aws.json.gz)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from aws_standin import schema, server
from aws_standin import tfplugin6_pb2 as pb

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `tf-offline.sh install` writes: the schema caches and the certificate."""
    out = tmp_path_factory.mktemp("built")
    schema.write_caches(out)
    server.write_certificate(out / "tls")
    return out


def test_the_certificate_is_private_and_valid_as_long_as_go_plugins(built: Path) -> None:
    from cryptography import x509

    tls = built / "tls"
    assert {p.name: p.stat().st_mode & 0o777 for p in tls.iterdir()} == {
        "key.pem": 0o600,
        "cert.pem": 0o600,
        "cert.der": 0o600,
    }
    cert = x509.load_der_x509_certificate((tls / "cert.der").read_bytes())
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime.total_seconds() == 262980 * 3600 + 30
    assert cert == x509.load_pem_x509_certificate((tls / "cert.pem").read_bytes())


def test_the_blocks_cache_holds_the_documents_blocks(built: Path) -> None:
    cached = schema.Blocks(built / "schema.blocks.json")
    doc = schema.provider()
    for section in ("resource_schemas", "data_source_schemas"):
        assert cached.names(section) == list(doc[section])
        for name in ("aws_iam_policy_document", "aws_ecs_service", "aws_wafv2_web_acl"):
            if name in doc[section]:
                assert cached.block(section, name) == doc[section][name]["block"]
    # The patched WAF statement (schema.py), not the wheel's untyped one.
    rule = cached.block("resource_schemas", "aws_wafv2_web_acl")["block_types"]["rule"]
    assert (
        "rate_based_statement" in rule["block"]["block_types"]["statement"]["block"]["block_types"]
    )


def test_the_process_presents_the_built_certificate_and_serves_the_schema(
    built: Path,
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        server.MAGIC_COOKIE_KEY: server.MAGIC_COOKIE_VALUE,
        "PLUGIN_PROTOCOL_VERSIONS": "5,6",
        # Any value: the server does not check Terraform's certificate (README.md).
        "PLUGIN_CLIENT_CERT": "unused",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "aws_standin.server", "--tls", str(built / "tls")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        core, protocol, network, address, kind, cert = proc.stdout.readline().strip().split("|")
        assert (core, protocol, network, kind) == ("1", "6", "tcp", "grpc")
        der = (built / "tls" / "cert.der").read_bytes()
        assert base64.b64decode(cert + "=" * (-len(cert) % 4)) == der
        credentials = grpc.ssl_channel_credentials(
            root_certificates=(built / "tls" / "cert.pem").read_bytes()
        )
        with grpc.secure_channel(
            address, credentials, options=[("grpc.ssl_target_name_override", "localhost")]
        ) as channel:
            call = channel.unary_unary(
                "/tfplugin6.Provider/GetProviderSchema",
                request_serializer=pb.GetProviderSchema.Request.SerializeToString,
                response_deserializer=pb.GetProviderSchema.Response.FromString,
            )
            answer = call(pb.GetProviderSchema.Request(), timeout=60)
            assert answer == schema.response()
            shutdown = channel.unary_unary("/plugin.GRPCController/Shutdown")
            stopping = shutdown.future(b"", timeout=60)
            assert proc.wait(timeout=60) == 0
            # The server may stop before its answer leaves (seen): what counts is the exit.
            failure = stopping.exception(timeout=60)
            assert failure is None or failure.code() == grpc.StatusCode.UNAVAILABLE, failure
    finally:
        proc.kill()
        proc.wait()


def test_without_a_built_certificate_it_makes_one(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key_pem, cert_pem, der = server._read_certificate(tmp_path / "missing")
    # Parsed, not matched as text: a PEM header in a tracked file trips detect-private-key.
    key = load_pem_private_key(key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert key.public_key() == cert.public_key()
    assert cert == x509.load_der_x509_certificate(der)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
