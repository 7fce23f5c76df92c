"""Regenerate the Meltano setting definitions from `target-zoho-crm --about --format json`.

Why: `meltano.yml` and the Hub definition must list exactly the settings the target accepts (names,
kinds, defaults, options, secrets). Writing them by hand drifts; this script derives them from the
target's own config schema and rewrites:

* the `settings:` / `settings_group_validation:` block between the `BEGIN/END generated settings`
  markers in `meltano.yml`, and
* the whole `hub/target-zoho-crm--<variant>.yml`, and
* the settings table between the `BEGIN/END settings` markers in `docs/settings.md`.

Settings follow Meltano Hub's own conventions for SDK plugins (meltano/hub `hub-utils`, which builds
definitions from `--about`): an object setting with declared properties (`faker_config`) becomes one
dotted setting per property (`faker_config.seed`, `faker_config.locale`), `stream_maps` stays one
object, and the Hub file lists its settings sorted by name. meltano.yml keeps the schema's order,
which is the order `meltano config set --interactive` walks. The settings table in docs/ lists the
target's own settings; singer-sdk's generic ones are named in one line that points to its docs.

The repository's public URL is stated once, as `[project.urls] Repository` in pyproject.toml; the
Hub definition's `repo`, `docs` and git `pip_url` are derived from it.

`tests/target/test_packaging.py` fails when a file is out of step; run
`.venv/bin/python hub/sync_settings.py` after changing the target's settings.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import tomllib
import yaml
from singer_sdk import Target

ROOT = Path(__file__).resolve().parent.parent
VARIANT = "zoho-crm-singer"
HUB_FILE = ROOT / "hub" / f"target-zoho-crm--{VARIANT}.yml"
MELTANO_YML = ROOT / "meltano.yml"
SETTINGS_DOC = ROOT / "docs" / "settings.md"
DOC_BEGIN = "<!-- BEGIN settings (hub/sync_settings.py) -->\n"
DOC_END = "<!-- END settings -->\n"
PYPROJECT = ROOT / "pyproject.toml"
# The logo as Meltano Hub serves it; the file is hub/static/<same path>, laid out as in meltano/hub so
# that a Hub pull request copies it as it is.
LOGO_URL = "/assets/logos/loaders/zoho-crm.svg"
LOGO_FILE = HUB_FILE.parent / "static" / LOGO_URL.lstrip("/")
SDK_DOCS = "https://sdk.meltano.com/en/latest/capabilities.html"
# Settings that hold a map of the user's own keys: Hub keeps them whole (hub-utils does the same for
# stream_maps); every other object setting with declared properties is split into dotted settings.
_WHOLE_OBJECTS = {"stream_maps"}
BEGIN = "    # BEGIN generated settings (hub/sync_settings.py)\n"
END = "    # END generated settings\n"

# Acronyms kept upper-case in labels ("api_url" -> "API URL").
_ACRONYMS = {"id": "ID", "url": "URL", "api": "API", "coql": "COQL", "sdc": "SDC"}

# Plugin commands (`meltano invoke target-zoho-crm:<name>`), in meltano.yml and the Hub definition.
# Meltano passes the plugin's settings as TARGET_ZOHO_CRM_* variables, which the commands read.
COMMANDS: dict[str, dict[str, str]] = {
    "auth": {
        "executable": "target-zoho-crm-auth",
        "args": "",
        "description": "Exchange a Zoho Self Client grant code for a refresh token at the configured data "
        "centre: meltano invoke target-zoho-crm:auth --code <grant code> (add --write-config FILE to "
        "store it).",
    },
}

# `test` is Create & Test: Meltano does not pass a command the plugin's own `--config` file
# (meltano/meltano#8112), so it reads the exported variables through singer-sdk's `--config ENV`.
COMMANDS["test"] = {
    "args": "--config ENV --test",
    "description": "Create & Test: checks authentication, the data centre, the org, the scopes and "
    "every configured stream against Zoho's metadata; writes nothing.",
}

# Meltano groups: either refresh-token credentials or a ready access token satisfies validation.
SETTINGS_GROUP_VALIDATION = [["client_id", "client_secret", "refresh_token"], ["access_token"]]


def _about(fmt: str) -> str:
    exe = Path(sys.executable).parent / "target-zoho-crm"
    out = subprocess.run([str(exe), "--about", "--format", fmt], check=True, capture_output=True, text=True)
    return out.stdout


def about_json() -> dict[str, Any]:
    """Run the installed console script, exactly as Hub's tooling does."""
    return dict(json.loads(_about("json")))


def repo_url() -> str:
    """The repository's public URL: pyproject.toml `[project.urls] Repository`, the one place it is set."""
    with PYPROJECT.open("rb") as fh:
        return str(tomllib.load(fh)["project"]["urls"]["Repository"])


def raw_url(path: str) -> str:
    """A file of the repository's main branch as raw text (what `meltano add --from-ref` downloads)."""
    owner_repo = repo_url().removeprefix("https://github.com/")
    return f"https://raw.githubusercontent.com/{owner_repo}/main/{path}"


def sdk_builtin_names(about: dict[str, Any]) -> list[str]:
    """The settings singer-sdk adds to every target (and that this one keeps), in --about's order."""
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    Target.append_builtin_config(schema)
    return [name for name in about["settings"]["properties"] if name in schema["properties"]]


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
        return [raw] if raw != "null" else []
    if isinstance(raw, list):
        return [t for t in raw if t != "null"]
    # `oneOf`/`anyOf` of several types (faker_config.seed, .locale): an array when one of them is,
    # else a string (Meltano passes a string setting through as it is) -- as hub-utils decides.
    alternatives = [t for alt in prop.get("oneOf") or prop.get("anyOf") or [] for t in _types(alt)]
    if "array" in alternatives:
        return ["array"]
    return ["string"] if alternatives else []


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
            if value is None or str(value) in seen:
                continue
            # Both cases of a case-insensitive value are offered: Meltano's interactive prompt only
            # accepts a listed option, exactly as spelt.
            seen.add(str(value))
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


def flat_properties(about: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Setting name -> JSON-schema property, objects with declared properties split into dotted names."""
    flat: dict[str, dict[str, Any]] = {}
    for name, prop in about["settings"]["properties"].items():
        children = prop.get("properties") if "object" in _types(prop) else None
        if children and name not in _WHOLE_OBJECTS:
            for child, child_prop in children.items():
                flat[f"{name}.{child}"] = child_prop
        else:
            flat[name] = prop
    return flat


def settings_from_about(about: dict[str, Any]) -> list[dict[str, Any]]:
    """meltano.yml's settings, in the schema's order."""
    return [setting_for(name, prop) for name, prop in flat_properties(about).items()]


def hub_settings(about: dict[str, Any]) -> list[dict[str, Any]]:
    """The Hub definition's settings: the same, sorted by name as Meltano Hub lists them."""
    return sorted(settings_from_about(about), key=lambda s: str(s["name"]))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value) if isinstance(value, (bool, list, dict)) else str(value)
    return text.replace("|", "\\|")


def settings_table(about: dict[str, Any]) -> str:
    """The Markdown table of the target's own settings, and one line naming singer-sdk's."""
    builtin = sdk_builtin_names(about)
    rows = ["| Setting | Default | Description |", "|:--|:--|:--|"]
    for name, prop in about["settings"]["properties"].items():
        if name in builtin:
            continue
        default = _cell(prop.get("default"))
        description = _cell(" ".join(str(prop.get("description", "")).split()))
        rows.append(f"| `{name}` | {f'`{default}`' if default else ''} | {description} |")
    generic = ", ".join(f"`{name}`" for name in builtin)
    rows.append("")
    rows.append(f"Also accepted, as in every singer-sdk target: {generic} ([singer-sdk docs]({SDK_DOCS})).")
    return "\n".join(rows) + "\n"


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
        "logo_url": LOGO_URL,
        "domain_url": "https://www.zoho.com/crm/",
        "repo": repo_url(),
        "docs": f"{repo_url()}#readme",
        # No package index release yet: install from the repository (a plain `target-zoho-crm` once
        # there is one).
        "pip_url": f"git+{repo_url()}.git",
        "executable": "target-zoho-crm",
        "maintenance_status": "beta",
        # Hub's schema requires `quality`, and Hub rates it (hub-utils `update-quality`); "unknown" is
        # what Hub's rating gives a community plugin nobody uses yet, so the definition claims nothing.
        "quality": "unknown",
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
            "the JSON Lines `rejects_path` file with Zoho's error code, field and message. "
            f"[Recipes]({repo_url()}/blob/main/docs/recipes.md) for common taps, "
            f"[API credits]({repo_url()}/blob/main/docs/credits.md) and "
            f"[troubleshooting]({repo_url()}/blob/main/docs/troubleshooting.md) are in the repository's docs."
        ),
        "settings": hub_settings(about),
        "commands": COMMANDS,
    }


def render_meltano_block(about: dict[str, Any]) -> str:
    """The generated part of the loader entry in meltano.yml (without the markers)."""
    block = {
        "capabilities": list(about["capabilities"]),
        "settings_group_validation": SETTINGS_GROUP_VALIDATION,
        "settings": settings_from_about(about),
        "commands": COMMANDS,
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
    doc = SETTINGS_DOC.read_text(encoding="utf-8")
    doc = replace_between(doc, DOC_BEGIN, DOC_END, settings_table(about), SETTINGS_DOC)
    SETTINGS_DOC.write_text(doc, encoding="utf-8")
    print(
        f"wrote {HUB_FILE.relative_to(ROOT)} and the settings in meltano.yml and {SETTINGS_DOC.relative_to(ROOT)}"
    )


if __name__ == "__main__":
    main()
