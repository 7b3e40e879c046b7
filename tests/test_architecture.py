"""The layout's rules, checked on the source (docs/architecture.md explains them):
device/ is the kiosk and the shared contract, the other roles reach into it only through
its wire format, delivery and file helpers, and each concept has one home."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO

ROLES = ("device", "model_export", "provisioning", "receiver")


def sources(*folders: str) -> list[Path]:
    return sorted(
        p
        for f in folders
        for p in (REPO / f).rglob("*.py")
        if ".venv" not in p.relative_to(REPO).parts
    )


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
    top = {
        p.name for p in (REPO / "device").iterdir() if not p.name.startswith((".", "__pycache__"))
    }
    assert top == {
        "__init__.py",
        "config.py",
        "cli.py",
        "errors.py",
        "fileio.py",
        "wire",
        "vision",
        "session",
        "models",
        "delivery",
        "kiosk",
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


@pytest.mark.parametrize("path", sources(*ROLES, "bench"), ids=lambda p: str(p.relative_to(REPO)))
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
    """No code string spells a topic (`"emoface/{id}/..."`, `"emoface/+/..."`): only
    device/wire/topics.py builds them, from its ROOT."""
    literal = re.compile(r"""f?["']emoface/(\{|\+|%u|#)""")
    holders = [str(p.relative_to(REPO)) for p in sources(*ROLES) if literal.search(p.read_text())]
    assert holders == []
    assert 'ROOT = "emoface"' in (REPO / "device/wire/topics.py").read_text()


def test_importing_the_clinic_roles_loads_nothing_else_of_device():
    """The static check above, confirmed at run time: what the import really loads."""
    code = (
        "import importlib, pkgutil, sys\n"
        "for role in ('receiver', 'provisioning'):\n"
        "    pkg = importlib.import_module(role)\n"
        "    for m in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(f'{role}.{m.name}')\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith('device.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out and [m for m in out if not ALLOWED_FROM_CLINIC.fullmatch(m)] == []
