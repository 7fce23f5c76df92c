"""Settings schema, the region/environment URL table and per-stream options.

URLs follow Zoho's "Multi DC Support" page (https://www.zoho.com/crm/developer/docs/api/v8/multi-dc.html),
Zoho Accounts' DC list (https://www.zoho.com/accounts/protocol/oauth/multi-dc.html) and the official SDKs'
`dc/*_data_center.py` (sandbox/developer hosts, file-upload hosts).
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from target_zoho_crm.errors import ConfigError
from target_zoho_crm.settings.schema import CONFIG_SCHEMA
from target_zoho_crm.settings.settings import StreamOptions, TargetSettings
from target_zoho_crm.zoho.regions import REGIONS, ZohoUrls, is_loopback_host, resolve_urls

CREDS = {"client_id": "1000.ABC", "client_secret": "s" * 20, "refresh_token": "1000.r.t"}

# Written out from Zoho's pages/SDKs rather than derived from the code under test.
EXPECTED = {
    "US": ("https://accounts.zoho.com", "zohoapis.com", "https://content.zohoapis.com"),
    "EU": ("https://accounts.zoho.eu", "zohoapis.eu", "https://content.zohoapis.eu"),
    "IN": ("https://accounts.zoho.in", "zohoapis.in", "https://content.zohoapis.in"),
    "AU": ("https://accounts.zoho.com.au", "zohoapis.com.au", "https://content.zohoapis.com.au"),
    "CN": ("https://accounts.zoho.com.cn", "zohoapis.com.cn", "https://content.zohoapis.com.cn"),
    "JP": ("https://accounts.zoho.jp", "zohoapis.jp", "https://content.zohoapis.jp"),
    "CA": ("https://accounts.zohocloud.ca", "zohoapis.ca", "https://upload.zohocloud.ca"),
    "SA": ("https://accounts.zoho.sa", "zohoapis.sa", "https://files.zoho.sa"),
}
ENV_PREFIX = {"production": "www", "sandbox": "sandbox", "developer": "developer"}

SETTINGS = [
    "unmatched_streams",
    "client_id",
    "client_secret",
    "refresh_token",
    "access_token",
    "token_cache_path",
    "token_wait_seconds",
    "region",
    "environment",
    "accounts_url",
    "api_url",
    "upload_url",
    "api_version",
    "api_type",
    "use_coql",
    "operation",
    "streams",
    "trigger",
    "max_concurrency",
    "rejects_path",
    "max_rejects",
    "dry_run",
    "timezone",
    "bulk_poll_max_interval",
    "bulk_max_jobs_in_flight",
    "bulk_job_timeout",
    "request_timeout",
    "max_retries",
    "state_flush_seconds",
    "check_ambiguous_keys",
]


@pytest.mark.parametrize("region", sorted(EXPECTED))
@pytest.mark.parametrize("environment", ["production", "sandbox", "developer"])
def test_every_region_and_environment_resolves_to_zohos_hosts(region: str, environment: str) -> None:
    accounts, tld, upload = EXPECTED[region]
    urls = resolve_urls({"region": region, "environment": environment})
    assert urls == ZohoUrls(accounts, f"https://{ENV_PREFIX[environment]}.{tld}", upload)
    assert urls.token_url == f"{accounts}/oauth/v2/token"


def test_issue_regions_are_verified_and_uk_ae_are_flagged() -> None:
    assert {r for r, reg in REGIONS.items() if reg.verified} == set(EXPECTED)
    assert {r for r, reg in REGIONS.items() if not reg.verified} == {"UK", "AE"}


def test_defaults_are_us_production() -> None:
    assert resolve_urls({}) == ZohoUrls(
        "https://accounts.zoho.com", "https://www.zohoapis.com", "https://content.zohoapis.com"
    )


def test_region_is_case_insensitive_in_code_and_in_the_schema() -> None:
    assert resolve_urls({"region": "eu"}).api_url == "https://www.zohoapis.eu"
    assert resolve_urls({"region": " Jp ", "environment": "Sandbox"}).api_url == "https://sandbox.zohoapis.jp"
    jsonschema.validate({**CREDS, "region": "in"}, CONFIG_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**CREDS, "region": "XX"}, CONFIG_SCHEMA)
    with pytest.raises(ConfigError, match="region"):
        resolve_urls({"region": "mars"})


def test_overrides_win_and_trailing_slashes_are_dropped() -> None:
    urls = resolve_urls(
        {
            "region": "EU",
            "accounts_url": "http://127.0.0.1:8765/",
            "api_url": "http://localhost:8765",
            "upload_url": "https://proxy.example.com/zoho/",
        }
    )
    assert urls == ZohoUrls(
        "http://127.0.0.1:8765", "http://localhost:8765", "https://proxy.example.com/zoho"
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "127.9.8.7", "[::1]", "localhost"])
def test_plain_http_is_allowed_on_loopback(host: str) -> None:
    assert resolve_urls({"api_url": f"http://{host}:1234"}).api_url == f"http://{host}:1234"


@pytest.mark.parametrize(
    "url",
    [
        "http://www.zohoapis.com",
        "http://10.0.0.5:8080",
        "http://127.0.0.1.nip.io",
        "ftp://127.0.0.1",
        "zohoapis",
    ],
)
def test_plain_http_or_odd_schemes_are_refused_elsewhere(url: str) -> None:
    with pytest.raises(ConfigError, match="api_url"):
        resolve_urls({"api_url": url})


def test_loopback_detection() -> None:
    assert is_loopback_host("127.0.0.1") and is_loopback_host("::1") and is_loopback_host("LOCALHOST")
    assert not is_loopback_host("128.0.0.1") and not is_loopback_host("example.com")
    assert not is_loopback_host(None)


def test_schema_lists_every_setting_with_a_description_and_marks_secrets() -> None:
    props = CONFIG_SCHEMA["properties"]
    assert sorted(props) == sorted(SETTINGS)
    for name, prop in props.items():
        assert prop.get("description"), name
    secrets = {name for name, prop in props.items() if prop.get("secret")}
    assert secrets == {"client_secret", "refresh_token", "access_token"}
    assert props["region"]["default"] == "US"
    assert props["environment"]["default"] == "production"
    assert props["api_version"]["default"] == "v4"
    assert props["api_version"]["enum"] == ["v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"]
    assert props["api_type"]["default"] == "rest" and set(props["api_type"]["enum"]) == {
        "rest",
        "bulk",
        "auto",
    }
    assert props["operation"]["default"] == "upsert"
    assert props["use_coql"]["default"] is True
    assert props["max_concurrency"]["default"] == 10
    assert props["timezone"]["default"] == "UTC"
    assert "default" not in props["trigger"]  # unset means Zoho's default automation


def test_schema_accepts_stream_options_and_rejects_bad_values() -> None:
    good: dict[str, Any] = {
        **CREDS,
        "trigger": [],
        "streams": {
            "public-leads": {
                "module": "Leads",
                "operation": "insert",
                "duplicate_check_fields": ["Email"],
                "field_map": {"mail": "Email"},
            }
        },
    }
    jsonschema.validate(good, CONFIG_SCHEMA)
    for bad in (
        {**CREDS, "operation": "merge"},
        {**CREDS, "trigger": ["everything"]},
        {**CREDS, "streams": {"x": {"operation": "delete"}}},
        {**CREDS, "api_version": "v9"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, CONFIG_SCHEMA)


def test_stream_options_exact_key_then_loose_key_then_globals() -> None:
    config = {
        "operation": "insert",
        "api_type": "bulk",
        "streams": {
            "public-leads": {
                "module": "Leads",
                "duplicate_check_fields": ["Email"],
                "field_map": {"m": "Email"},
            },
            "Sales_Orders": {"operation": "update", "external_id_field": "Ext_ID", "api_type": "rest"},
            "salesorders": {"operation": "upsert"},
        },
    }
    leads = StreamOptions.from_config(config, "public-leads")
    assert leads == StreamOptions("Leads", "insert", ["Email"], None, {"m": "Email"}, "bulk")
    exact = StreamOptions.from_config(config, "Sales_Orders")
    assert (exact.operation, exact.external_id_field, exact.api_type) == ("update", "Ext_ID", "rest")
    assert StreamOptions.from_config(config, "PUBLIC_LEADS").module == "Leads"  # loose key
    assert StreamOptions.from_config(config, "db.public.leads").module is None  # "leads" is not a key
    by_table = {"streams": {"leads": {"module": "Leads"}, "public-leads": {"module": "Contacts"}}}
    assert StreamOptions.from_config(by_table, "public-leads").module == "Contacts"  # exact wins
    assert StreamOptions.from_config(by_table, "crm-leads").module == "Leads"  # schema prefix dropped
    assert StreamOptions.from_config(config, "contacts") == StreamOptions(None, "insert", api_type="bulk")
    assert StreamOptions.from_config({}, "contacts") == StreamOptions()
    with pytest.raises(ConfigError, match="several keys"):
        StreamOptions.from_config(config, "sales-orders")


def test_target_settings_defaults_and_credentials_check() -> None:
    settings = TargetSettings.from_config(CREDS)
    assert settings.max_concurrency == 10 and settings.request_timeout == 60 and settings.max_retries == 8
    assert settings.bulk_poll_max_interval == 30 and settings.bulk_max_jobs_in_flight == 2
    assert settings.timezone == "UTC" and settings.trigger is None and settings.use_coql is True
    assert settings.region == "US" and settings.api_version == "v4" and settings.dry_run is False
    assert TargetSettings.from_config({**CREDS, "trigger": [], "max_retries": 0}).trigger == []
    assert (
        TargetSettings.from_config({"access_token": "1000.abc.def"}).urls.api_url
        == "https://www.zohoapis.com"
    )
    with pytest.raises(ConfigError, match="refresh_token"):
        TargetSettings.from_config({"client_id": "x", "client_secret": "y"})
    with pytest.raises(ConfigError, match="max_concurrency"):
        TargetSettings.from_config({**CREDS, "max_concurrency": 0})
