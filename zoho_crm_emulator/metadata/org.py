"""The emulated org (`GET /org`, reference §6.4) and its users (`GET /users`, §6.5)."""

from __future__ import annotations

from typing import Any

from .build import stable_id

ORG_ZGID = "808232144"


def org() -> dict[str, Any]:
    """One `org` element in Zoho's shape; `zgid` is what bulk uploads send as `X-CRM-ORG`."""
    return {
        "id": stable_id("org"),
        "zgid": ORG_ZGID,
        "domain_name": f"org{ORG_ZGID}",
        "company_name": "Zylker Emulated Inc.",
        "alias": "Zylker",
        "primary_email": "admin@zylker.example",
        "primary_zuid": "808232145",
        "phone": "+1 555 0100",
        "website": "https://zylker.example",
        "time_zone": "America/Los_Angeles",
        "currency": "US Dollar - USD",
        "iso_code": "USD",
        "currency_symbol": "$",
        "currency_locale": "en_US",
        "country_code": "US",
        "country": "United States",
        "type": "production",
        "mc_status": False,
        "gapps_enabled": False,
        "privacy_settings": False,
        "hipaa_compliance_enabled": False,
        "translation_enabled": False,
        "zia_portal_id": None,
        "max_per_page": 200,
        "created_time": "2023-01-09T08:12:44-08:00",
        "license_details": {
            "paid": True,
            "paid_type": "enterprise",
            "paid_expiry": "2030-01-09T00:00:00-08:00",
            "users_license_purchased": 10,
            "trial_type": None,
            "trial_expiry": None,
            "trial_action": None,
        },
    }


def _user(first: str, last: str, email: str, role: str, profile: str, status: str) -> dict[str, Any]:
    return {
        "id": stable_id("user", email),
        "first_name": first,
        "last_name": last,
        "full_name": f"{first} {last}",
        "email": email,
        "status": status,
        "confirm": status == "active",
        "role": {"name": role, "id": stable_id("role", role)},
        "profile": {"name": profile, "id": stable_id("profile", profile)},
        "time_zone": "America/Los_Angeles",
        "locale": "en_US",
        "country_locale": "en_US",
        "zuid": str(808232145 + len(email)),
    }


def users() -> list[dict[str, Any]]:
    """Two active users (the first is the admin who owns emulator-created records) and one inactive."""
    return [
        _user("Patricia", "Boyle", "admin@zylker.example", "CEO", "Administrator", "active"),
        _user("Ray", "Sales", "ray.sales@zylker.example", "Manager", "Standard", "active"),
        _user("Former", "Employee", "former@zylker.example", "Manager", "Standard", "disabled"),
    ]
