"""The clinic roles (receiver/, provisioning/) use only the device's wire contract and
delivery plumbing: device.wire, device.delivery, device.fileio and device.errors."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.support.paths import REPO

ALLOWED = ("device.wire", "device.delivery", "device.fileio", "device.errors")
ROLES = ("receiver", "provisioning")


def _allowed(module: str) -> bool:
    return not module.startswith("device") or any(
        module == a or module.startswith(a + ".") for a in ALLOWED
    )


def test_clinic_roles_import_only_the_wire_and_delivery_parts_of_device():
    found = []
    for role in ROLES:
        for path in sorted((REPO / role).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                    if node.module == "device":
                        names = [f"device.{a.name}" for a in node.names]
                else:
                    continue
                found += [f"{path.relative_to(REPO)}: {n}" for n in names if not _allowed(n)]
    assert found == []


def test_importing_the_clinic_roles_loads_nothing_else_of_device():
    code = (
        "import importlib, pkgutil, sys\n"
        f"for role in {ROLES!r}:\n"
        "    pkg = importlib.import_module(role)\n"
        "    for m in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(f'{role}.{m.name}')\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith('device.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out and [m for m in out if not _allowed(m)] == []
