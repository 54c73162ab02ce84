"""Generated gRPC code matches scripts/gen_proto, loads, and the proto is fully documented."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import grpc
import pytest
from google.protobuf import __version__ as protobuf_version
from google.protobuf import descriptor_pb2
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "router" / "api" / "ticket_router"
PROTOS = sorted((ROOT / "proto" / "ticket_router" / "v1").glob("*.proto"))
SERVICES = {
    "ticket_service": "TicketService",
    "agent_service": "AgentService",
    "queue_service": "QueueService",
    "rule_service": "RuleService",
}


def generated_modules() -> list[str]:
    return sorted(
        f"router.api.ticket_router.v1.{path.stem}" for path in (GENERATED / "v1").glob("*_pb2*.py")
    )


def test_regenerating_gives_the_committed_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {
        p.relative_to(GENERATED.parent): p.read_bytes()
        for p in GENERATED.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert sorted(fresh) == sorted(committed), "run scripts/gen_proto and commit router/api"
    changed = [str(name) for name in fresh if fresh[name] != committed[name]]
    assert not changed, f"generated code edited by hand or stale; run scripts/gen_proto: {changed}"


@pytest.mark.parametrize("module", generated_modules())
def test_generated_module_imports(module: str) -> None:
    importlib.import_module(module)


@pytest.mark.parametrize(("module", "service"), sorted(SERVICES.items()))
def test_services_load_with_their_methods(module: str, service: str) -> None:
    messages = importlib.import_module(f"router.api.ticket_router.v1.{module}_pb2")
    stubs = importlib.import_module(f"router.api.ticket_router.v1.{module}_pb2_grpc")
    descriptor = messages.DESCRIPTOR.services_by_name[service]
    assert descriptor.full_name == f"ticket_router.v1.{service}"
    assert descriptor.methods, service
    for method in descriptor.methods:
        # Google API design: one request and one response message per RPC.
        assert method.input_type.name == f"{method.name}Request"
        assert method.output_type.name == f"{method.name}Response"
    assert hasattr(stubs, f"{service}Stub")
    assert hasattr(stubs, f"add_{service}Servicer_to_server")


def test_every_enum_starts_with_unspecified_zero() -> None:
    for module in generated_modules():
        if module.endswith("_grpc"):
            continue
        file = importlib.import_module(module).DESCRIPTOR
        enums = list(file.enum_types_by_name.values())
        for enum in enums:
            prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper()
            assert enum.values_by_number[0].name == f"{prefix}_UNSPECIFIED", enum.full_name
            for value in enum.values:
                assert value.name.startswith(f"{prefix}_"), value.name


def _generated_protobuf_version(text: str) -> Version:
    match = re.search(
        r"ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,\s*(\d+),\s*(\d+),"
        r"\s*(\d+),",
        text,
    )
    assert match, "generated code lost its protobuf runtime check"
    return Version(".".join(match.groups()))


def _generated_grpc_version(text: str) -> Version:
    match = re.search(r"GRPC_GENERATED_VERSION = '([^']+)'", text)
    assert match
    return Version(match.group(1))


def _declared_minimum(package: str) -> Version:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for requirement in pyproject["project"]["dependencies"]:
        match = re.fullmatch(rf"{re.escape(package)}>=([\d.]+)", requirement.strip())
        if match:
            return Version(match.group(1))
    raise AssertionError(f"pyproject.toml declares no minimum for {package}")


def test_installed_and_declared_runtimes_satisfy_the_generated_code() -> None:
    pb2 = [p.read_text() for p in (GENERATED / "v1").glob("*_pb2.py")]
    grpc_files = [p.read_text() for p in (GENERATED / "v1").glob("*_pb2_grpc.py")]
    needed_protobuf = max(_generated_protobuf_version(text) for text in pb2)
    needed_grpc = max(_generated_grpc_version(text) for text in grpc_files)
    installed_protobuf = Version(protobuf_version)
    # protobuf accepts gencode of the same major version, not newer than the runtime.
    assert installed_protobuf.major == needed_protobuf.major
    assert installed_protobuf >= needed_protobuf
    assert Version(grpc.__version__) >= needed_grpc
    # What pip may install from pyproject.toml must run the committed code too.
    assert _declared_minimum("protobuf") >= needed_protobuf
    assert _declared_minimum("grpcio") >= needed_grpc


def _descriptor_set_with_comments(tmp_path: Path) -> descriptor_pb2.FileDescriptorSet:
    from grpc_tools import protoc

    out = tmp_path / "api.pb"
    include = Path(protoc.__file__).parent / "_proto"
    status = protoc.main(
        [
            "protoc",
            f"-I{ROOT / 'proto'}",
            f"-I{include}",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            *(str(p.relative_to(ROOT / "proto")) for p in PROTOS),
        ]
    )
    assert status == 0
    return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def test_every_element_of_the_api_is_documented(tmp_path: Path) -> None:
    """Services, RPCs, messages, fields, enums and enum values each carry a leading comment."""
    undocumented: list[str] = []
    for file in _descriptor_set_with_comments(tmp_path).file:
        comments = {
            tuple(location.path): location.leading_comments.strip()
            for location in file.source_code_info.location
        }

        def check(path: tuple[int, ...], name: str, comments: dict = comments) -> None:
            if not comments.get(path):
                undocumented.append(name)

        def walk_message(
            message: descriptor_pb2.DescriptorProto, path: tuple[int, ...], prefix: str
        ) -> None:
            name = f"{prefix}.{message.name}"
            check(path, name)
            for i, field in enumerate(message.field):
                check((*path, 2, i), f"{name}.{field.name}")
            for i, nested in enumerate(message.nested_type):
                if not nested.options.map_entry:
                    walk_message(nested, (*path, 3, i), name)
            for i, enum in enumerate(message.enum_type):
                walk_enum(enum, (*path, 4, i), name)

        def walk_enum(
            enum: descriptor_pb2.EnumDescriptorProto, path: tuple[int, ...], prefix: str
        ) -> None:
            name = f"{prefix}.{enum.name}"
            check(path, name)
            for i, value in enumerate(enum.value):
                check((*path, 2, i), f"{name}.{value.name}")

        for i, message in enumerate(file.message_type):
            walk_message(message, (4, i), file.package)
        for i, enum in enumerate(file.enum_type):
            walk_enum(enum, (5, i), file.package)
        for i, service in enumerate(file.service):
            check((6, i), f"{file.package}.{service.name}")
            for j, method in enumerate(service.method):
                check((6, i, 2, j), f"{file.package}.{service.name}.{method.name}")
    assert not undocumented, f"add a comment to: {undocumented}"


def test_every_rpc_documents_its_status_codes(tmp_path: Path) -> None:
    for file in _descriptor_set_with_comments(tmp_path).file:
        comments = {tuple(loc.path): loc.leading_comments for loc in file.source_code_info.location}
        for i, service in enumerate(file.service):
            for j, method in enumerate(service.method):
                text = comments.get((6, i, 2, j), "")
                assert "Errors:" in text, f"{service.name}.{method.name} lists no status codes"
                assert "Role:" in text, f"{service.name}.{method.name} names no role"
