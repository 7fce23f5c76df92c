"""Regenerate the Meltano setting definitions from `target-zoho-crm --about --format json`.

Why: `meltano.yml` and the Hub definition must list exactly the settings the target accepts (names,
kinds, defaults, options, secrets). Writing them by hand drifts; this script derives them from the
target's own config schema and rewrites:

* the `settings:` / `settings_group_validation:` block between the `BEGIN/END generated settings`
  markers in `meltano.yml`, and
* the whole `hub/target-zoho-crm--<variant>.yml`, and
* the settings table between the `BEGIN/END settings` markers in `README.md` (from
  `--about --format markdown`).

`tests/target/test_packaging.py` fails when either file is out of step; run
`.venv/bin/python hub/sync_settings.py` after changing `target_zoho_crm/config.py`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
VARIANT = "zoho-crm-singer"
HUB_FILE = ROOT / "hub" / f"target-zoho-crm--{VARIANT}.yml"
MELTANO_YML = ROOT / "meltano.yml"
README = ROOT / "README.md"
README_BEGIN = "<!-- BEGIN settings (hub/sync_settings.py) -->\n"
README_END = "<!-- END settings -->\n"
BEGIN = "    # BEGIN generated settings (hub/sync_settings.py)\n"
END = "    # END generated settings\n"

# Acronyms kept upper-case in labels ("api_url" -> "API URL").
_ACRONYMS = {"id": "ID", "url": "URL", "api": "API", "coql": "COQL", "sdc": "SDC"}

# Meltano groups: either refresh-token credentials or a ready access token satisfies validation.
SETTINGS_GROUP_VALIDATION = [["client_id", "client_secret", "refresh_token"], ["access_token"]]


def _about(fmt: str) -> str:
    exe = Path(sys.executable).parent / "target-zoho-crm"
    out = subprocess.run([str(exe), "--about", "--format", fmt], check=True, capture_output=True, text=True)
    return out.stdout


def about_json() -> dict[str, Any]:
    """Run the installed console script, exactly as Hub's tooling does."""
    return dict(json.loads(_about("json")))


def about_settings_table() -> str:
    """The settings table of `--about --format markdown` (its lines that start with '|')."""
    lines = _about("markdown").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Setting"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        # singer-sdk prints str-enum defaults by name ("TargetLoadMethods.APPEND_ONLY"); show the value.
        table.append(
            re.sub(r"\bTarget\w+\.([A-Z_]+)\b", lambda m: m.group(1).lower().replace("_", "-"), line)
        )
    return "\n".join(table) + "\n"


def replace_between(text: str, begin: str, end: str, body: str, where: Path) -> str:
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"markers {begin.strip()!r} / {end.strip()!r} not found in {where}")
    return pattern.sub(lambda _: begin + body + end, text)


def label_for(name: str, prop: dict[str, Any]) -> str:
    if prop.get("title"):
        return str(prop["title"])
    return " ".join(_ACRONYMS.get(w, w.capitalize()) for w in name.split("_"))


def _types(prop: dict[str, Any]) -> list[str]:
    raw = prop.get("type")
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        return [t for t in raw if t != "null"]
    return []


def is_secret(prop: dict[str, Any]) -> bool:
    return bool(prop.get("secret") or prop.get("writeOnly"))


def setting_for(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    """One Meltano setting definition from one JSON-schema property."""
    types = _types(prop)
    setting: dict[str, Any] = {"name": name, "label": label_for(name, prop)}
    if is_secret(prop):
        setting["kind"] = "password"
        setting["sensitive"] = True
    elif prop.get("enum"):
        setting["kind"] = "options"
        seen: set[str] = set()
        options = []
        for value in prop["enum"]:
            if value is None or str(value).lower() in seen:
                continue  # e.g. region accepts "us" and "US": offer each choice once
            seen.add(str(value).lower())
            options.append({"label": str(value), "value": str(value)})
        setting["options"] = options
    elif "boolean" in types:
        setting["kind"] = "boolean"
    elif "integer" in types:
        setting["kind"] = "integer"
    elif "number" in types:
        setting["kind"] = "decimal"
    elif "object" in types:
        setting["kind"] = "object"
    elif "array" in types:
        setting["kind"] = "array"
    else:
        setting["kind"] = "string"
    if prop.get("description"):
        setting["description"] = " ".join(str(prop["description"]).split())
    if "default" in prop and prop["default"] is not None:
        setting["value"] = prop["default"]
    return setting


def settings_from_about(about: dict[str, Any]) -> list[dict[str, Any]]:
    props: dict[str, Any] = about["settings"]["properties"]
    return [setting_for(name, prop) for name, prop in props.items()]


def dump(data: Any, indent: int = 0) -> str:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    pad = " " * indent
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))


def hub_definition(about: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "target-zoho-crm",
        "namespace": "target_zoho_crm",
        "variant": VARIANT,
        "label": "Zoho CRM",
        "description": "Customer relationship management (CRM) platform",
        "logo_url": "/assets/logos/loaders/zoho-crm.png",
        "domain_url": "https://www.zoho.com/crm/",
        "repo": f"https://github.com/{VARIANT}/target-zoho-crm",
        "docs": f"https://github.com/{VARIANT}/target-zoho-crm#readme",
        "pip_url": "target-zoho-crm",
        "executable": "target-zoho-crm",
        "maintenance_status": "beta",
        "quality": "silver",
        "keywords": ["meltano_sdk", "crm", "zoho", "api"],
        "capabilities": list(about["capabilities"]),
        "supported_python_versions": list(about.get("supported_python_versions") or []),
        "settings_group_validation": SETTINGS_GROUP_VALIDATION,
        "settings_preamble": (
            "Authenticate with a Zoho OAuth self client (client ID, client secret and a refresh token "
            "with the `ZohoCRM.modules.ALL`, `ZohoCRM.settings.ALL`, `ZohoCRM.coql.READ`, "
            "`ZohoCRM.users.READ`, `ZohoCRM.org.READ`, `ZohoCRM.bulk.ALL` and `ZohoFiles.files.ALL` "
            "scopes), or with a short-lived `access_token`. Pick the data centre with `region`."
        ),
        "usage": (
            "Each stream is loaded into the Zoho module of the same name (or `streams.<name>.module`). "
            "Records are upserted on Zoho's duplicate-check fields by default; refused records go to "
            "the JSON Lines `rejects_path` file with Zoho's error code, field and message."
        ),
        "settings": settings_from_about(about),
    }


def render_meltano_block(about: dict[str, Any]) -> str:
    """The generated part of the loader entry in meltano.yml (without the markers)."""
    block = {
        "capabilities": list(about["capabilities"]),
        "settings_group_validation": SETTINGS_GROUP_VALIDATION,
        "settings": settings_from_about(about),
    }
    return dump(block, indent=4)


def main() -> None:
    about = about_json()
    header = (
        "# Meltano Hub plugin definition (meltano/hub: _data/meltano/loaders/target-zoho-crm/"
        f"{VARIANT}.yml).\n# Generated by hub/sync_settings.py from `target-zoho-crm --about --format json`.\n"
    )
    HUB_FILE.write_text(header + dump(hub_definition(about)), encoding="utf-8")
    text = MELTANO_YML.read_text(encoding="utf-8")
    text = replace_between(text, BEGIN, END, render_meltano_block(about), MELTANO_YML)
    MELTANO_YML.write_text(text, encoding="utf-8")
    readme = README.read_text(encoding="utf-8")
    readme = replace_between(readme, README_BEGIN, README_END, about_settings_table(), README)
    README.write_text(readme, encoding="utf-8")
    print(f"wrote {HUB_FILE.relative_to(ROOT)} and the settings in meltano.yml and README.md")


if __name__ == "__main__":
    main()
