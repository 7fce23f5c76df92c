"""Packaging: the console script's --about/--version, meltano.yml, the Meltano Hub definition, the
package's metadata and licence, and README links that work where the README is shown without the
repository (a package index page renders README.md with no repository beside it, so a relative link
there is broken).

Meltano passes settings to the target as a config file built from the `settings` declared in
meltano.yml, and redacts only settings marked `sensitive` (Meltano docs, "Plugin definition syntax" /
settings: https://docs.meltano.com/reference/plugin-definition-syntax#settings). Meltano Hub validates
loader definitions against meltano/hub `schemas/plugin_definitions/loaders.schema.json` and
`schemas/common/base_setting.schema.json`; the subset checked here is copied from those files.
These tests keep all three in step with the target's own `config_jsonschema`; when one fails after a
settings change, run `.venv/bin/python hub/sync_settings.py`.
"""

from __future__ import annotations

import copy
import importlib.metadata
import importlib.resources
import importlib.util
import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from xml.etree import ElementTree

import jsonschema
import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).parent / "target-zoho-crm"
HUB_DIR = ROOT / "hub"
DOCS_DIR = ROOT / "docs"

# Meltano Hub: required and allowed top-level keys of a loader definition, capabilities a loader may
# declare, and the keys/kinds of one setting (meltano/hub schemas, see module docstring).
HUB_LOADER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "namespace", "variant", "label", "quality"],
    "additionalProperties": False,
    "properties": {
        **{
            key: {}
            for key in [
                "pip_url",
                "executable",
                "repo",
                "description",
                "docs",
                "commands",
                "dialect",
                "target_schema",
                "hidden",
                "requires",
                "definition",
                "next_steps",
                "settings_preamble",
                "usage",
                "prereq",
                "python",
                "log_parser",
            ]
        },
        "name": {"type": "string", "pattern": "^target-"},
        "namespace": {"type": "string", "pattern": "^[a-z_][a-z0-9_]*$"},
        "variant": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]*$"},
        "label": {"type": "string"},
        "logo_url": {"type": ["string", "null"]},
        "domain_url": {"type": ["string", "null"], "format": "uri"},
        "keywords": {"type": "array", "items": {"type": "string"}},
        "maintenance_status": {"enum": ["active", "beta", "development", "inactive", "unknown"]},
        "quality": {"enum": ["gold", "silver", "bronze", "unknown"]},
        "supported_python_versions": {"type": "array", "items": {"type": "string"}},
        "capabilities": {
            "type": "array",
            "items": {
                "enum": [
                    "about",
                    "stream-maps",
                    "activate-version",
                    "batch",
                    "soft-delete",
                    "hard-delete",
                    "datatype-failsafe",
                    "schema-flattening",
                    "target-schema",
                    "validate-records",
                    "structured-logging",
                ]
            },
        },
        "settings_group_validation": {
            "type": "array",
            "items": {"type": "array", "items": {"type": "string"}},
        },
        "settings": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {
                    **{
                        key: {}
                        for key in [
                            "aliases",
                            "value",
                            "placeholder",
                            "tooltip",
                            "documentation",
                            "env",
                            "value_processor",
                            "value_post_processor",
                            "oauth",
                            "docs",
                            "protected",
                        ]
                    },
                    "name": {"type": "string"},
                    "label": {"type": "string"},
                    "description": {"type": "string"},
                    "hidden": {"type": "boolean"},
                    "sensitive": {"type": "boolean"},
                    "kind": {
                        "enum": [
                            "oauth",
                            "hidden",
                            "password",
                            "date_iso8601",
                            "file",
                            "email",
                            "integer",
                            "options",
                            "object",
                            "array",
                            "boolean",
                            "string",
                            "decimal",
                        ]
                    },
                    "options": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"label": {"type": "string"}, "value": {"type": "string"}},
                        },
                    },
                },
            },
        },
    },
}


def _sync_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hub_sync_settings", HUB_DIR / "sync_settings.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_ZOHO_CRM_")}
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=60, env=env, check=False)


@cache
def _about() -> dict[str, Any]:
    run = _cli("--about", "--format", "json")
    assert run.returncode == 0, run.stderr[-2000:]
    return dict(json.loads(run.stdout))


def _schema_properties() -> dict[str, Any]:
    """The settings the target accepts: its config_jsonschema plus the singer-sdk built-ins it keeps."""
    from target_zoho_crm.target import TargetZohoCRM

    schema = copy.deepcopy(TargetZohoCRM.config_jsonschema)
    TargetZohoCRM.append_builtin_config(schema)
    return dict(schema["properties"])


def _setting_properties() -> dict[str, Any]:
    """Meltano setting name -> schema property: as Meltano Hub names SDK settings, an object setting
    with declared properties becomes dotted settings (`faker_config.seed`); `stream_maps` stays whole."""
    flat: dict[str, Any] = {}
    for name, prop in _schema_properties().items():
        children = prop.get("properties")
        if children and name != "stream_maps":
            flat.update({f"{name}.{child}": sub for child, sub in children.items()})
        else:
            flat[name] = prop
    return flat


def _sdk_builtins() -> set[str]:
    """The settings singer-sdk gives every target."""
    from singer_sdk import Target

    schema: dict[str, Any] = {"type": "object", "properties": {}}
    Target.append_builtin_config(schema)
    return set(schema["properties"])


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return dict(tomllib.load(fh))


def _repo_url() -> str:
    return str(_pyproject()["project"]["urls"]["Repository"])


def _meltano_yml() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8")))


def _loader() -> dict[str, Any]:
    loaders = [p for p in _meltano_yml()["plugins"]["loaders"] if p["name"] == "target-zoho-crm"]
    assert len(loaders) == 1
    return dict(loaders[0])


def _hub_files() -> list[Path]:
    return sorted(HUB_DIR.glob("target-zoho-crm--*.yml"))


def _hub() -> dict[str, Any]:
    files = _hub_files()
    assert len(files) == 1, files
    return dict(yaml.safe_load(files[0].read_text(encoding="utf-8")))


def test_about_json_describes_the_target() -> None:
    about = _about()
    assert about["name"] == "target-zoho-crm"
    assert about["version"] == importlib.metadata.version("target-zoho-crm")
    assert set(about["settings"]["properties"]) == set(_schema_properties())
    assert "about" in about["capabilities"]
    for secret in ("client_secret", "refresh_token", "access_token"):
        assert about["settings"]["properties"][secret].get("secret") is True, secret


def test_about_markdown_has_a_settings_table() -> None:
    run = _cli("--about", "--format", "markdown")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "| Setting |" in run.stdout
    for name in _schema_properties():
        assert f"| {name} |" in run.stdout, name


def test_about_text_and_version() -> None:
    text = _cli("--about")
    assert text.returncode == 0, text.stderr[-2000:]
    assert "target-zoho-crm" in text.stdout
    version = _cli("--version")
    assert version.returncode == 0, version.stderr[-2000:]
    assert importlib.metadata.version("target-zoho-crm") in version.stdout
    assert "target-zoho-crm" in version.stdout


def test_meltano_yml_lists_every_setting_and_nothing_else() -> None:
    loader = _loader()
    assert loader["namespace"] == "target_zoho_crm"
    assert loader["pip_url"] == "-e ."
    assert loader["executable"] == "target-zoho-crm"
    names = [s["name"] for s in loader["settings"]]
    assert len(names) == len(set(names)), "duplicate setting"
    assert set(names) == set(_setting_properties())
    assert {"faker_config.seed", "faker_config.locale", "stream_maps"} <= set(names)
    assert "faker_config" not in names
    assert set(loader["capabilities"]) == set(_about()["capabilities"])


def test_meltano_settings_are_generated_from_about() -> None:
    """Kinds, defaults, options and descriptions mirror --about; stale files mean: rerun the script."""
    sync = _sync_module()
    expected = sync.settings_from_about(_about())
    stale = "out of step with --about: run `.venv/bin/python hub/sync_settings.py`"
    assert _loader()["settings"] == expected, f"meltano.yml {stale}"
    assert _loader()["settings_group_validation"] == sync.SETTINGS_GROUP_VALIDATION, f"meltano.yml {stale}"
    assert _hub()["settings"] == sorted(expected, key=lambda s: s["name"]), f"hub definition {stale}"
    doc = (DOCS_DIR / "settings.md").read_text(encoding="utf-8")
    assert sync.settings_table(_about()) in doc, f"docs/settings.md table {stale}"


def test_hub_settings_are_sorted_and_split_as_hub_lists_sdk_settings() -> None:
    """Meltano Hub lists a definition's settings by name, and names an SDK object setting's properties
    as dotted settings (meltano/hub _data/meltano/loaders/target-postgres/meltanolabs.yml:
    `faker_config.locale` kind array, `faker_config.seed` kind string; `stream_maps` one object)."""
    settings = {s["name"]: s for s in _hub()["settings"]}
    assert list(settings) == sorted(settings)
    assert "faker_config" not in settings
    assert settings["faker_config.locale"]["kind"] == "array"
    assert settings["faker_config.seed"]["kind"] == "string"
    assert settings["stream_maps"]["kind"] == "object"


def test_secrets_are_sensitive_passwords_everywhere() -> None:
    from target_zoho_crm.settings.schema import SECRET_KEYS

    props = _schema_properties()
    secrets = {name for name, prop in props.items() if prop.get("secret") or prop.get("writeOnly")}
    assert set(SECRET_KEYS) <= secrets
    for settings in (_loader()["settings"], _hub()["settings"]):
        sensitive = {s["name"] for s in settings if s.get("sensitive")}
        assert sensitive == secrets
        for s in settings:
            if s["name"] in secrets:
                assert s["kind"] == "password" and "value" not in s, s


def test_every_setting_is_described_with_a_valid_default() -> None:
    props = _setting_properties()
    for s in _loader()["settings"]:
        assert s.get("label") and s.get("kind"), s
        prop = props[s["name"]]
        if "default" in prop and prop["default"] is not None:
            assert s["value"] == prop["default"], s["name"]
        if s["kind"] == "options":
            allowed = {str(getattr(v, "value", v)).lower() for v in prop["enum"] if v is not None}
            assert {o["value"].lower() for o in s["options"]} == allowed, s["name"]


def test_hub_definition_is_valid_for_meltano_hub() -> None:
    hub = _hub()
    jsonschema.validate(hub, HUB_LOADER_SCHEMA)
    assert _hub_files()[0].name == f"target-zoho-crm--{hub['variant']}.yml"
    assert hub["namespace"] == _loader()["namespace"]
    assert hub["executable"] == _loader()["executable"]
    assert set(hub["capabilities"]) == set(_about()["capabilities"])
    assert "meltano_sdk" in hub["keywords"]
    names = {s["name"] for s in hub["settings"]}
    for group in hub["settings_group_validation"]:
        assert set(group) <= names, group


def test_hub_definition_installs_from_the_repository_and_claims_no_quality() -> None:
    """Until a package index release exists, `pip_url` is the repository's git URL (pip's
    `git+https://` form); Hub rates `quality` itself, so the definition says "unknown" (the schema
    requires the key; "unknown" is what Hub's rating gives a new community plugin)."""
    hub = _hub()
    repo = _repo_url()
    assert hub["repo"] == repo
    assert hub["docs"].startswith(repo)
    assert hub["pip_url"] == f"git+{repo}.git"
    assert hub["quality"] == "unknown"


def test_hub_logo_exists() -> None:
    """Hub serves `logo_url` from its `static/` folder; hub/static/ holds the same path."""
    logo_url = _hub()["logo_url"]
    assert logo_url.startswith("/assets/logos/loaders/"), logo_url
    logo = HUB_DIR / "static" / logo_url.lstrip("/")
    assert logo.is_file(), logo
    root = ElementTree.fromstring(logo.read_text(encoding="utf-8"))
    assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag


def test_hub_schema_check_can_fail() -> None:
    """The schema above is strict: an unknown key or a bad kind is caught."""
    hub = _hub()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**hub, "homepage": "x"}, HUB_LOADER_SCHEMA)
    bad = {**hub, "settings": [{**hub["settings"][0], "kind": "secret"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, HUB_LOADER_SCHEMA)


def test_demo_environment_reads_the_demo_csv_files() -> None:
    env = {e["name"]: e for e in _meltano_yml()["environments"]}
    plugins = env["demo"]["config"]["plugins"]
    (tap,) = [p for p in plugins["extractors"] if p["name"] == "tap-spreadsheets"]
    tables = {}
    for entry in tap["config"]["files"]:
        path = Path(entry["path"].replace("${MELTANO_PROJECT_ROOT}", str(ROOT)))
        assert path.is_file(), path
        tables[entry["table_name"]] = path
    assert set(tables) == {"Accounts", "Contacts", "Leads"}
    (target,) = [p for p in plugins["loaders"] if p["name"] == "target-zoho-crm"]
    assert set(target["config"]) <= set(_schema_properties())
    assert target["config"]["rejects_path"] == "${MELTANO_PROJECT_ROOT}/demo/output/rejects.jsonl"


def test_settings_doc_has_a_row_per_own_setting_and_names_the_sdk_ones() -> None:
    """docs/settings.md: a table row for each of the target's own settings; singer-sdk's generic
    settings are named once, outside the table."""
    doc = (DOCS_DIR / "settings.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([a-z_.]+)` \|", doc, flags=re.MULTILINE))
    builtins = _sdk_builtins() & set(_schema_properties())
    assert rows == set(_schema_properties()) - builtins
    generic_line = next(line for line in doc.splitlines() if line.startswith("Also accepted"))
    for name in builtins:
        assert f"`{name}`" in generic_line, name


_LINK = re.compile(r"\]\(([^)\s]+)\)|<a [^>]*href=\"([^\"]+)\"|<img [^>]*src=\"([^\"]+)\"")


def _links(text: str) -> list[str]:
    return [next(g for g in m.groups() if g) for m in _LINK.finditer(text)]


def test_readme_links_are_absolute_and_point_into_the_repository() -> None:
    """Every README link works on a package index page: absolute, or an anchor of the README itself.
    A link into this repository starts with the one repository URL (pyproject.toml) and names a file or
    folder that exists."""
    repo = _repo_url()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = _links(readme)
    assert links, "no links found: the pattern is broken"
    for link in links:
        assert link.startswith(("https://", "#")), f"relative or insecure link in README.md: {link}"
        if "github.com" in link and "target-zoho-crm" in link:
            assert link.startswith(repo + "/"), f"{link} is not under {repo}"
        if link.startswith(repo + "/"):
            kind, branch, path = link.removeprefix(repo + "/").split("/", 2)
            assert kind in ("blob", "tree") and branch == "main", link
            assert (ROOT / path.split("#")[0]).exists(), f"{link}: no {path} in the repository"


def test_readme_link_check_can_fail() -> None:
    """The pattern sees Markdown links, HTML links and images, relative ones included."""
    assert _links('[a](docs/x.md) <a href="LICENSE">b</a> <img src="hub/x.svg">') == [
        "docs/x.md",
        "LICENSE",
        "hub/x.svg",
    ]


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation but `-` and `_` dropped, spaces as `-`."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_docs_links_resolve() -> None:
    """Links between the files of docs/ (relative, as GitHub renders them) name files and headings
    that exist."""
    for page in sorted(DOCS_DIR.glob("*.md")):
        for link in _links(page.read_text(encoding="utf-8")):
            if link.startswith(("https://", "http://", "mailto:")):
                continue
            path, _, anchor = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            assert target.exists(), f"{page.name}: {link}"
            if anchor and target.suffix == ".md":
                assert anchor in _anchors(target), f"{page.name}: {link}: no such heading"


def test_meltano_docs_give_the_hub_definition_url() -> None:
    """The `meltano add --from-ref` command in the docs downloads this repository's Hub definition."""
    sync = _sync_module()
    url = sync.raw_url(f"hub/{_hub_files()[0].name}")
    assert url.startswith("https://raw.githubusercontent.com/")
    doc = (DOCS_DIR / "meltano.md").read_text(encoding="utf-8")
    assert f"meltano add --plugin-type loader target-zoho-crm --from-ref {url}" in doc
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"--from-ref {url}" in readme


def test_license_and_project_metadata() -> None:
    """The declared Apache-2.0 licence ships as LICENSE (its full text), and the installed metadata
    carries the project URLs and classifiers (PEP 639: an SPDX expression and no licence classifier)."""
    project = _pyproject()["project"]
    assert project["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX: How to apply the Apache License" in text
    repo = _repo_url()
    assert all(url.startswith(repo) for url in project["urls"].values()), project["urls"]
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]
    versions = {
        c.rsplit(" ", 1)[1]
        for c in project["classifiers"]
        if re.match(r"Programming Language :: Python :: 3\.\d+$", c)
    }
    assert versions == set(_about()["supported_python_versions"])

    meta = importlib.metadata.metadata("target-zoho-crm")
    stale = "installed metadata differs from pyproject.toml: run `make install`"
    assert meta.get_all("License-Expression") == ["Apache-2.0"], stale
    assert "LICENSE" in (meta.get_all("License-File") or []), stale
    assert set(meta.get_all("Classifier") or []) == set(project["classifiers"]), stale
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert urls == project["urls"], stale


def test_emulator_readme_ships_with_the_emulator_package() -> None:
    """The emulator's README is package data of `zoho_crm_emulator`, readable from the installed package."""
    package_data = _pyproject()["tool"]["setuptools"]["package-data"]
    assert "README.md" in package_data["zoho_crm_emulator"]
    readme = importlib.resources.files("zoho_crm_emulator") / "README.md"
    assert readme.is_file()
    assert readme.read_text(encoding="utf-8").startswith("# Zoho CRM emulator")


def _env_for(settings: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_ZOHO_CRM_")}
    for name, value in settings.items():
        env[f"TARGET_ZOHO_CRM_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


def _run_env(env: dict[str, str], source: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EXE), "--config", "ENV", "--input", str(source)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
        check=False,
    )


def test_config_env_reads_every_setting_from_the_environment(
    emulator: Any, target_config: dict[str, Any], tmp_path: Path
) -> None:
    """`--config ENV`: settings come from TARGET_ZOHO_CRM_<NAME>, objects as JSON, integers parsed.

    The stream `prospects` reaches Zoho's Leads only through the `streams` object read from the
    environment; Leads are upserted on their system duplicate-check field Email
    (https://www.zoho.com/crm/developer/docs/api/v8/upsert-records.html).
    """
    from tests.target.singer_io import LEAD_PROPERTIES, lead, record, schema, state, write_lines

    settings = {k: v for k, v in target_config.items() if not isinstance(v, float) and k != "request_timeout"}
    settings.update(
        streams={"prospects": {"module": "Leads"}},
        max_concurrency=2,
        rejects_path=str(tmp_path / "rejects.jsonl"),
    )
    messages = [
        schema("prospects", LEAD_PROPERTIES, ["id"]),
        *[record("prospects", lead(i)) for i in range(5)],
    ]
    messages.append(state({"bookmarks": {"prospects": {"id": 4}}}))
    run = _run_env(_env_for(settings), write_lines(tmp_path / "in.singer", messages), tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert [json.loads(line) for line in run.stdout.splitlines()] == [{"bookmarks": {"prospects": {"id": 4}}}]
    assert sorted(r["Email"] for r in emulator.records("Leads")) == [f"lead{i}@example.com" for i in range(5)]
    assert target_config["client_secret"] not in run.stderr
    assert target_config["refresh_token"] not in run.stderr


def test_config_env_accepts_a_number_setting(tmp_path: Path) -> None:
    """singer-sdk 0.54.9 would leave `number` settings from the environment as strings."""
    env = _env_for({"access_token": "1000.x", "request_timeout": 10, "bulk_poll_max_interval": 2.5})
    source = tmp_path / "empty.singer"
    source.write_text("")
    run = _run_env(env, source, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]


def test_config_env_rejects_a_bad_value_from_the_environment(tmp_path: Path) -> None:
    """A value read from the environment is validated like a file's: an unknown region stops the run."""
    env = _env_for({"access_token": "1000.x", "region": "MARS"})
    source = tmp_path / "empty.singer"
    source.write_text("")
    run = _run_env(env, source, tmp_path)
    assert run.returncode != 0
    assert "region" in run.stderr


# Fragments of the messages docs/troubleshooting.md quotes, each one string literal of the target's code.
TROUBLESHOOTING_MESSAGES = [
    "No Zoho credentials: set client_id, client_secret and refresh_token",
    "Zoho rejected the OAuth client",
    "Zoho rejected the refresh token",
    "Zoho rejected the configured access_token",
    "Zoho accounts server unreachable",
    "retried and gave up",
    "the refresh token lacks a scope this call needs",
    "only loopback addresses",
    "matches no Zoho CRM module that accepts records",
    "which is not a field of",
    "BATCH messages are not supported",
    "Zoho kept failing after the request was sent",
    "more than max_rejects",
    "the source's own id is not a Zoho record id",
    "rejected records are in",
    "Cannot write the rejects file",
    "names properties the stream schema does not have",
    "to find the Zoho record to delete",
    "what Zoho holds cannot be read",
    "nothing is deleted on a guess",
    "API credits for the rolling 24 hours are spent",
    "The run stopped early:",
    "read but not written",
    "would pass it; it was not sent",
    "left in the rolling 24 hours (about",
    "Singer metadata properties (_sdc_*) are not loaded",
    "'properties' must be an object mapping each property to its",
    "cannot be matched or replayed safely, so the run stops here",
    "not valid UTF-8: byte 0x",
    "JSON nested more than",
    "is not a JSON number",
    "upsert record has no value to match on",
    "must be text, not",
    "the value is not shown",
    "Check the path given to --config.",
    "The config file is not valid JSON",
    "is out of range: use",
    "is not a known time zone",
    "must be more than 0 seconds",
    "is a directory: name a file",
    "which is not a field of",
    "but not a duplicate-check, unique or External ID field",
    "is not an External ID field of",
    "a read-only field of",
    "so no record could be matched: map the Zoho record id",
    "stream(s) match no Zoho CRM module",
    "Skipped (unmatched_streams: skip): not loaded.",
    "is dropped by stream_maps (__NULL__): not loaded.",
    "is ignored",
    "matched no stream of this run",
    "Create & Test: OK, a load could start (nothing was written).",
    "problem(s); a load would not start.",
    "answered Access Denied",
    "Asking again in",
    "The token cache is off",
    "until it expires in",
    "Zoho refused the grant code (invalid_code)",
    "Zoho does not know this client (invalid_client)",
    "issued no refresh token",
    "it is not readable JSON",
    "The refresh token was not",
    "missing: pass it as an option.",
    "Reusing a cached Zoho access token",
    "is not a token cache file; ignoring it.",
    "going on without it.",
    "stayed locked by another process",
]


def test_troubleshooting_quotes_messages_the_target_prints() -> None:
    """Each message the troubleshooting page explains is still in the target's code: when one is
    reworded or removed, this fails until the page follows."""
    source = " ".join(path.read_text(encoding="utf-8") for path in (ROOT / "target_zoho_crm").rglob("*.py"))
    page = " ".join((DOCS_DIR / "troubleshooting.md").read_text(encoding="utf-8").split())
    for fragment in TROUBLESHOOTING_MESSAGES:
        assert fragment in source, f"the target no longer prints {fragment!r}: update docs/troubleshooting.md"
        assert fragment in page, f"docs/troubleshooting.md does not explain {fragment!r}"
