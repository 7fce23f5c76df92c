"""Zoho's data centres and environments → the URLs of a run (accounts, API, upload), and which hosts
may be reached over plain http (loopback only).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from target_zoho_crm.errors import ConfigError

ENVIRONMENTS = ("production", "sandbox", "developer")


_ENV_HOST_PREFIX = {"production": "www", "sandbox": "sandbox", "developer": "developer"}


@dataclass(frozen=True)
class Region:
    """One Zoho data centre: its accounts server, API domain suffix and file-upload host."""

    accounts: str  # OAuth server; token URL is accounts + "/oauth/v2/token"
    api_host_tld: str  # "zohoapis.com" → www./sandbox./developer.zohoapis.com
    upload: str  # bulk-write upload host (the SDKs' getFileUploadUrl)
    verified: bool = True

    def api_url(self, environment: str = "production") -> str:
        return f"https://{_ENV_HOST_PREFIX[environment]}.{self.api_host_tld}"


REGIONS: dict[str, Region] = {
    "US": Region("https://accounts.zoho.com", "zohoapis.com", "https://content.zohoapis.com"),
    "EU": Region("https://accounts.zoho.eu", "zohoapis.eu", "https://content.zohoapis.eu"),
    "IN": Region("https://accounts.zoho.in", "zohoapis.in", "https://content.zohoapis.in"),
    "AU": Region("https://accounts.zoho.com.au", "zohoapis.com.au", "https://content.zohoapis.com.au"),
    "CN": Region("https://accounts.zoho.com.cn", "zohoapis.com.cn", "https://content.zohoapis.com.cn"),
    "JP": Region("https://accounts.zoho.jp", "zohoapis.jp", "https://content.zohoapis.jp"),
    # Canada: accounts and upload live on zohocloud.ca, the API on zohoapis.ca (SDK CADataCenter).
    "CA": Region("https://accounts.zohocloud.ca", "zohoapis.ca", "https://upload.zohocloud.ca"),
    # Saudi Arabia: in the v8 SDKs (SADataCenter) and Zoho Accounts' DC list, not on the CRM multi-DC page.
    "SA": Region("https://accounts.zoho.sa", "zohoapis.sa", "https://files.zoho.sa"),
    # UNVERIFIED for CRM: Zoho Accounts lists a UK server; no CRM doc or SDK confirms the API/upload hosts.
    "UK": Region("https://accounts.zoho.uk", "zohoapis.uk", "https://content.zohoapis.uk", verified=False),
    # UNVERIFIED for CRM: zohoapis.ae appears in WorkDrive docs only; upload host follows WorkDrive (files.).
    "AE": Region("https://accounts.zoho.ae", "zohoapis.ae", "https://files.zoho.ae", verified=False),
}


@dataclass(frozen=True)
class ZohoUrls:
    """Base URLs without a trailing slash."""

    accounts_url: str
    api_url: str
    upload_url: str

    @property
    def token_url(self) -> str:
        return f"{self.accounts_url}/oauth/v2/token"


def is_loopback_host(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (the only hosts plain http:// may name)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, setting: str) -> str:
    """Validate one base URL: https anywhere, http only on loopback; returns it without trailing '/'."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"`{setting}` must be an absolute https:// URL, got {url!r}.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"`{setting}` uses plain http:// for {parts.hostname}: only loopback addresses "
            "(localhost, 127.0.0.0/8, ::1) may skip TLS. Use https://."
        )
    return url.strip().rstrip("/")


def normalize_region(value: Any) -> str:
    region = str(value or "US").strip().upper()
    if region not in REGIONS:
        raise ConfigError(f"Unknown `region` {value!r}: use one of {', '.join(REGIONS)}.")
    return region


def normalize_environment(value: Any) -> str:
    env = str(value or "production").strip().lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"Unknown `environment` {value!r}: use one of {', '.join(ENVIRONMENTS)}.")
    return env


def resolve_urls(config: Mapping[str, Any]) -> ZohoUrls:
    """Region + environment → URLs; `accounts_url`/`api_url`/`upload_url` override them."""
    region = REGIONS[normalize_region(config.get("region"))]
    env = normalize_environment(config.get("environment"))
    return ZohoUrls(
        accounts_url=check_url(config.get("accounts_url") or region.accounts, "accounts_url"),
        api_url=check_url(config.get("api_url") or region.api_url(env), "api_url"),
        upload_url=check_url(config.get("upload_url") or region.upload, "upload_url"),
    )
