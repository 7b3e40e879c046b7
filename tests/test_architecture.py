"""The layout's rules, checked on the source (docs/architecture.md explains them):
device/ is the kiosk and the shared contract, the other roles reach into it only through
its wire format, delivery and file helpers, and each concept has one home."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.support.paths import REPO

ROLES = ("device", "model_export", "provisioning", "receiver")


def sources(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (REPO / f).rglob("*.py"))


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for every import in a file, relative imports resolved."""
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                pkg = path.relative_to(REPO).with_suffix("").parts[: -node.level]
                mod = ".".join((*pkg, mod)) if mod else ".".join(pkg)
            out.append((mod, [a.name for a in node.names]))
    return out


def test_device_top_level_holds_only_the_shared_modules_and_the_subpackages():
    top = {p.name for p in (REPO / "device").iterdir() if not p.name.startswith((".", "__pycache__"))}
    assert top == {
        "__init__.py", "config.py", "cli.py", "errors.py", "fileio.py",
        "wire", "vision", "session", "models", "delivery", "kiosk",
    }


@pytest.mark.parametrize("path", sources("device"), ids=lambda p: str(p.relative_to(REPO)))
def test_device_imports_no_other_role_and_no_torch(path):
    for mod, _ in imports(path):
        root = mod.split(".")[0]
        assert root not in ("model_export", "provisioning", "receiver", "torch", "mediapipe"), (
            f"{path.relative_to(REPO)} imports {mod}"
        )


ALLOWED_FROM_CLINIC = re.compile(r"device\.(wire|delivery)(\..+)?|device\.(fileio|errors)")


@pytest.mark.parametrize(
    "path", sources("receiver", "provisioning"), ids=lambda p: str(p.relative_to(REPO))
)
def test_clinic_roles_use_only_the_wire_format_delivery_and_file_helpers(path):
    for mod, names in imports(path):
        if mod == "device":
            mod = f"device.{names[0]}"
        if mod.split(".")[0] == "device":
            assert ALLOWED_FROM_CLINIC.fullmatch(mod), f"{path.relative_to(REPO)} imports {mod}"


@pytest.mark.parametrize(
    "path", sources(*ROLES, "bench"), ids=lambda p: str(p.relative_to(REPO))
)
def test_no_private_name_is_imported_across_modules(path):
    for mod, names in imports(path):
        if mod.split(".")[0] in ROLES:
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            assert not private, f"{path.relative_to(REPO)} imports {private} from {mod}"


def test_no_source_comment_speaks_of_issues():
    pat = re.compile(r"\bissue\s*#?\d+|\bissue's\b|\bthe issue\b", re.I)
    hits = [
        f"{p.relative_to(REPO)}:{i}: {line.strip()}"
        for p in sources(*ROLES, "bench")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pat.search(line)
    ]
    assert not hits, "\n".join(hits)


def test_the_device_id_rule_is_written_once():
    pattern = "[a-z0-9][a-z0-9-]{0,62}"
    holders = [str(p.relative_to(REPO)) for p in sources(*ROLES) if pattern in p.read_text()]
    assert holders == ["device/wire/topics.py"]


def test_topic_strings_are_built_in_one_place():
    literal = re.compile(r"""f?["']emoface/(\{|\+|%u)""")
    holders = [str(p.relative_to(REPO)) for p in sources(*ROLES) if literal.search(p.read_text())]
    assert holders == ["device/wire/topics.py"]
