"""The target and the emulator are two packages: the target never needs the emulator or werkzeug.

A plain `pip install target-zoho-crm` brings no werkzeug (it comes with the `emulator` extra), so the
target's code must import nothing of the emulator, not even inside a function, and must run without
werkzeug importable at all.
"""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs the target's CLI with werkzeug (and the emulator) made unimportable, as on a plain install.
_WITHOUT_EMULATOR = """
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"werkzeug", "zoho_crm_emulator"}:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: plain install)")
        return None
sys.meta_path.insert(0, Refuse())
for name in list(sys.modules):
    if name.split(".")[0] in {"werkzeug", "zoho_crm_emulator"}:
        del sys.modules[name]
from target_zoho_crm.target import TargetZohoCRM
sys.argv = ["target-zoho-crm", *sys.argv[1:]]
TargetZohoCRM.cli()
"""


def _imported_modules(package: str) -> dict[str, set[str]]:
    """Every module each file of `package` imports, at any depth (function bodies included)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def test_the_target_imports_nothing_of_the_emulator_or_werkzeug() -> None:
    offenders = {
        path: sorted(n for n in names if n.split(".")[0] in {"zoho_crm_emulator", "werkzeug"})
        for path, names in _imported_modules("target_zoho_crm").items()
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_emulator_imports_nothing_of_the_target() -> None:
    offenders = {
        path: sorted(n for n in names if n.split(".")[0] == "target_zoho_crm")
        for path, names in _imported_modules("zoho_crm_emulator").items()
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_werkzeug_is_required_only_by_the_emulator_extra() -> None:
    requires = importlib.metadata.requires("target-zoho-crm") or []
    werkzeug = [line for line in requires if line.lower().startswith("werkzeug")]
    assert werkzeug, requires
    assert all('extra == "emulator"' in line for line in werkzeug), werkzeug


def test_the_target_runs_about_without_werkzeug() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EMULATOR, "--about", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert '"name": "target-zoho-crm"' in done.stdout


def test_the_blocker_really_blocks_werkzeug() -> None:
    """The check above would prove nothing if werkzeug could still be imported under it."""
    probe = _WITHOUT_EMULATOR.split("from target_zoho_crm")[0] + "import werkzeug\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "blocked: plain install" in done.stderr
