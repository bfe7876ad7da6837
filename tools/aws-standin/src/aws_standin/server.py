"""The plugin server: go-plugin's handshake, AutoMTLS and the tfplugin6 Provider service.

Handshake (hashicorp/go-plugin server.go, Serve): the client sets TF_PLUGIN_MAGIC_COOKIE
(terraform internal/plugin/serve.go: d602bf8f...b2), PLUGIN_PROTOCOL_VERSIONS and, with
AutoMTLS (terraform enables it unless TF_DISABLE_PLUGIN_TLS is set), PLUGIN_CLIENT_CERT; the
server answers on stdout with `1|6|tcp|127.0.0.1:PORT|grpc|<server cert, DER, base64 raw
std encoding>`, serves TLS 1.2+ with its own certificate for "localhost" (go-plugin mtls.go:
self-signed, CA, client+server auth); it does not ask for the client's (serve).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import functools
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from aws_standin import data_sources, schema, scratch
from aws_standin import tfplugin6_pb2 as pb
from aws_standin.identifiers import Identity
from aws_standin.planning import ProviderConfig, normalize, plan_block, replace_paths
from aws_standin.values import decode, encode, from_json

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
CAPABILITIES = pb.ServerCapabilities(plan_destroy=False, get_provider_schema_optional=True)
# go-plugin's own certificates (mtls.go, generateCert) are valid for 262980 hours.
CERTIFICATE_HOURS = 262980


def _error(summary: str, detail: str = "") -> pb.Diagnostic:
    return pb.Diagnostic(severity=pb.Diagnostic.ERROR, summary=summary, detail=detail)


class Provider:
    def __init__(self) -> None:
        self.config = ProviderConfig()
        self.stop = threading.Event()

    @functools.cached_property
    def blocks(self) -> schema.Blocks:
        # Loaded on first use: validate asks only for the (cached) protocol schema.
        return schema.Blocks()

    def _resource(self, name: str) -> dict[str, Any]:
        return dict(self.blocks.block("resource_schemas", name))

    def _data(self, name: str) -> dict[str, Any]:
        return dict(self.blocks.block("data_source_schemas", name))

    # --- schema and configuration --------------------------------------------------------

    def GetMetadata(self, request: pb.GetMetadata.Request) -> pb.GetMetadata.Response:
        return pb.GetMetadata.Response(
            server_capabilities=CAPABILITIES,
            resources=[
                pb.GetMetadata.ResourceMetadata(type_name=n)
                for n in self.blocks.names("resource_schemas")
            ],
            data_sources=[
                pb.GetMetadata.DataSourceMetadata(type_name=n)
                for n in self.blocks.names("data_source_schemas")
            ],
        )

    def GetProviderSchema(self, request: pb.GetProviderSchema.Request) -> bytes:
        if schema.RESPONSE_CACHE.exists():
            return schema.RESPONSE_CACHE.read_bytes()
        return bytes(schema.response().SerializeToString())

    def ValidateProviderConfig(self, request: Any) -> Any:
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(self, request: Any) -> Any:
        return pb.ValidateResourceConfig.Response()

    def ValidateDataResourceConfig(self, request: Any) -> Any:
        return pb.ValidateDataResourceConfig.Response()

    def ConfigureProvider(self, request: pb.ConfigureProvider.Request) -> Any:
        config = decode(request.config.msgpack) or {}
        region = config.get("region")
        if isinstance(region, str) and region:
            self.config.region = region
        for block in config.get("default_tags") or []:
            tags = block.get("tags") if isinstance(block, dict) else None
            if isinstance(tags, dict):
                self.config.default_tags.update(tags)
        return pb.ConfigureProvider.Response()

    def GetFunctions(self, request: Any) -> Any:
        return pb.GetFunctions.Response()

    def StopProvider(self, request: Any) -> Any:
        return pb.StopProvider.Response()

    # --- managed resources ---------------------------------------------------------------

    def UpgradeResourceState(self, request: pb.UpgradeResourceState.Request) -> Any:
        block = self._resource(request.type_name)
        state = normalize(block, from_json(request.raw_state.json))
        return pb.UpgradeResourceState.Response(
            upgraded_state=pb.DynamicValue(msgpack=encode(state))
        )

    def ReadResource(self, request: pb.ReadResource.Request) -> Any:
        # What the state says is what there is, unless a scenario's overlay says the object
        # changed outside Terraform (scratch.py).
        state = scratch.drifted(request.type_name, decode(request.current_state.msgpack))
        block = self._resource(request.type_name)
        return pb.ReadResource.Response(
            new_state=pb.DynamicValue(msgpack=encode(normalize(block, state))),
            private=request.private,
        )

    def PlanResourceChange(self, request: pb.PlanResourceChange.Request) -> Any:
        block = self._resource(request.type_name)
        proposed = decode(request.proposed_new_state.msgpack)
        prior = decode(request.prior_state.msgpack)
        planned = plan_block(block, proposed, prior, self.config)
        return pb.PlanResourceChange.Response(
            planned_state=pb.DynamicValue(msgpack=encode(planned)),
            requires_replace=[
                pb.AttributePath(steps=[pb.AttributePath.Step(attribute_name=name)])
                for name in replace_paths(request.type_name, planned, prior)
            ],
            planned_private=request.prior_private,
            # As SDKv2 providers (most of hashicorp/aws) do: Terraform tolerates small
            # differences from the proposed state in set-nested blocks.
            legacy_type_system=True,
        )

    def ApplyResourceChange(self, request: pb.ApplyResourceChange.Request) -> Any:
        refusal = scratch.apply_refusal()
        if refusal is not None:
            return pb.ApplyResourceChange.Response(diagnostics=[_error(refusal)])
        planned = decode(request.planned_state.msgpack)
        if planned is None:  # destroy: nothing remains
            return pb.ApplyResourceChange.Response(new_state=request.planned_state)
        block = self._resource(request.type_name)
        identity = Identity(request.type_name, planned, self.config.region)
        state = scratch.fill(block, planned, identity)
        return pb.ApplyResourceChange.Response(
            new_state=pb.DynamicValue(msgpack=encode(state)),
            private=request.planned_private,
            legacy_type_system=True,
        )

    def ImportResourceState(self, request: pb.ImportResourceState.Request) -> Any:
        block = self._resource(request.type_name)
        state = normalize(block, scratch.existing(request.type_name, request.id))
        return pb.ImportResourceState.Response(
            imported_resources=[
                pb.ImportResourceState.ImportedResource(
                    type_name=request.type_name, state=pb.DynamicValue(msgpack=encode(state))
                )
            ]
        )

    # --- data sources --------------------------------------------------------------------

    def ReadDataSource(self, request: pb.ReadDataSource.Request) -> Any:
        block = self._data(request.type_name)
        config = decode(request.config.msgpack) or {}
        try:
            state = data_sources.read(request.type_name, config, self.config)
        except data_sources.UnsupportedDataSourceError:
            return pb.ReadDataSource.Response(
                diagnostics=[
                    _error(
                        f"The aws stand-in provider cannot read {request.type_name}",
                        "It has plausible values only for: "
                        + ", ".join(data_sources.SUPPORTED)
                        + " (tools/aws-standin/README.md).",
                    )
                ]
            )
        except ValueError as exc:
            return pb.ReadDataSource.Response(
                diagnostics=[_error(f"reading {request.type_name}: {exc}")]
            )
        return pb.ReadDataSource.Response(
            state=pb.DynamicValue(msgpack=encode(normalize(block, state)))
        )


_REQUESTS: dict[str, type] = {
    "GetMetadata": pb.GetMetadata.Request,
    "GetProviderSchema": pb.GetProviderSchema.Request,
    "ValidateProviderConfig": pb.ValidateProviderConfig.Request,
    "ValidateResourceConfig": pb.ValidateResourceConfig.Request,
    "ValidateDataResourceConfig": pb.ValidateDataResourceConfig.Request,
    "UpgradeResourceState": pb.UpgradeResourceState.Request,
    "ConfigureProvider": pb.ConfigureProvider.Request,
    "ReadResource": pb.ReadResource.Request,
    "PlanResourceChange": pb.PlanResourceChange.Request,
    "ApplyResourceChange": pb.ApplyResourceChange.Request,
    "ImportResourceState": pb.ImportResourceState.Request,
    "ReadDataSource": pb.ReadDataSource.Request,
    "GetFunctions": pb.GetFunctions.Request,
    "StopProvider": pb.StopProvider.Request,
}


def _serialize(message: Any) -> bytes:
    return message if isinstance(message, bytes) else bytes(message.SerializeToString())


def _handlers(provider: Provider, done: threading.Event) -> list[grpc.GenericRpcHandler]:
    def unary(fn: Callable[[Any], Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
        return lambda request, context: fn(request)

    methods = {
        name: grpc.unary_unary_rpc_method_handler(
            unary(getattr(provider, name)),
            request_deserializer=request.FromString,
            response_serializer=_serialize,
        )
        for name, request in _REQUESTS.items()
    }

    def shutdown(request: bytes, context: grpc.ServicerContext) -> bytes:
        done.set()
        return b""

    def broker(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        for _ in requests:  # no sub-plugins: hold the stream open until the client closes it
            pass
        return iter(())

    identity = {"request_deserializer": lambda b: b, "response_serializer": lambda b: b}
    return [
        grpc.method_handlers_generic_handler("tfplugin6.Provider", methods),
        grpc.method_handlers_generic_handler(
            "plugin.GRPCController",
            {"Shutdown": grpc.unary_unary_rpc_method_handler(shutdown, **identity)},
        ),
        grpc.method_handlers_generic_handler(
            "plugin.GRPCBroker",
            {"StartStream": grpc.stream_stream_rpc_method_handler(broker, **identity)},
        ),
    ]


def _certificate() -> tuple[bytes, bytes, bytes]:
    """A key and self-signed certificate for "localhost", as go-plugin's generateCert makes."""
    # Imported here: cryptography costs a provider process more to import than everything
    # else but grpc, and a built tool reads the certificate it made once (write_certificate).
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HashiCorp"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(hours=CERTIFICATE_HOURS))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return (
        key_pem,
        cert.public_bytes(serialization.Encoding.PEM),
        cert.public_bytes(serialization.Encoding.DER),
    )


_TLS_FILES = ("key.pem", "cert.pem", "cert.der")


def write_certificate(directory: Path) -> None:
    """The server's key and certificate, made once when the tool is built: every process
    Terraform starts presents it (Terraform pins it from that process's handshake line)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in zip(_TLS_FILES, _certificate(), strict=True):
        path = directory / name
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)


def _read_certificate(directory: Path | None) -> tuple[bytes, bytes, bytes]:
    paths = [directory / name for name in _TLS_FILES] if directory else []
    if paths and all(p.is_file() for p in paths):
        key_pem, cert_pem, cert_der = (p.read_bytes() for p in paths)
        return key_pem, cert_pem, cert_der
    return _certificate()


def serve(tls: Path | None = None) -> int:
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        print(
            "This is the aws stand-in Terraform provider; Terraform starts it itself "
            "(tools/aws-standin/README.md).",
            file=sys.stderr,
        )
        return 1
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "6").split(",")
    if "6" not in versions:
        print(
            f"Terraform offers plugin protocols {versions}; this provider speaks 6.",
            file=sys.stderr,
        )
        return 1
    done = threading.Event()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    for handler in _handlers(Provider(), done):
        server.add_generic_rpc_handlers((handler,))
    health_servicer = health.HealthServicer()
    health_servicer.set("plugin", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    client_cert = os.environ.get("PLUGIN_CLIENT_CERT", "")
    cert_field = ""
    if client_cert:
        key_pem, cert_pem, cert_der = _read_certificate(tls)
        # TLS with the certificate Terraform pins from the handshake line. Not the client's
        # certificate in return: go-plugin makes it on P-521 (mtls.go), and grpcio's BoringSSL
        # does not offer ecdsa_secp521r1_sha512 in its CertificateRequest, so Go's TLS client
        # finds no certificate to send and the handshake fails (seen: "PEER_DID_NOT_RETURN_A_
        # CERTIFICATE"). The stand-in holds no credentials and reaches nothing: a local
        # process that connects to it can read a schema and get a plan, nothing more.
        credentials = grpc.ssl_server_credentials([(key_pem, cert_pem)])
        port = server.add_secure_port("127.0.0.1:0", credentials)
        cert_field = base64.b64encode(cert_der).decode().rstrip("=")
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"1|6|tcp|127.0.0.1:{port}|grpc|{cert_field}\n")
    sys.stdout.flush()
    done.wait()
    server.stop(0)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aws_standin.server")
    parser.add_argument("--tls", type=Path, help="the directory write_certificate made")
    parser.add_argument(
        "--write-certificate", type=Path, metavar="DIR", help="make it (once, when built)"
    )
    args = parser.parse_args(argv)
    if args.write_certificate:
        write_certificate(args.write_certificate)
        return 0
    return serve(args.tls)


if __name__ == "__main__":
    sys.exit(main())
