"""OAuth: the token endpoint's grants and errors, and token checks on CRM calls (reference §1)."""

from __future__ import annotations

import time

import requests

from zoho_crm_emulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_GRANT_CODE,
    DEFAULT_REFRESH_TOKEN,
    ZohoEmulator,
)

T = 5


def _crm(zoho: ZohoEmulator, token: str | None, auth_prefix: str = "Zoho-oauthtoken ") -> requests.Response:
    headers = {"Authorization": f"{auth_prefix}{token}"} if token is not None else {}
    return requests.get(f"{zoho.url}/crm/v8/org", headers=headers, timeout=T)


def test_refresh_token_grant_form_and_query(zoho, refresh):
    """Refresh grant, params as form fields or query string; `expires_in` in seconds, `api_domain` given.
    https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html"""
    body = refresh(zoho)
    assert set(body) >= {"access_token", "api_domain", "token_type", "expires_in"}
    assert "refresh_token" not in body
    assert body["expires_in"] == 3600 and body["api_domain"] == zoho.url and body["token_type"] == "Bearer"
    assert _crm(zoho, body["access_token"]).status_code == 200
    params = {
        "grant_type": "refresh_token",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "refresh_token": DEFAULT_REFRESH_TOKEN,
    }
    resp = requests.post(f"{zoho.url}/oauth/v2/token", params=params, timeout=T)
    assert resp.status_code == 200 and resp.json()["access_token"] != body["access_token"]


def test_authorization_code_is_single_use_and_yields_a_refresh_token(zoho, refresh):
    """Grant codes are single use; the exchange returns a refresh token that works.
    https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token.html"""
    data = {
        "grant_type": "authorization_code",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "redirect_uri": "http://localhost/cb",
        "code": DEFAULT_GRANT_CODE,
    }
    first = requests.post(f"{zoho.url}/oauth/v2/token", data=data, timeout=T).json()
    assert first["access_token"] and first["refresh_token"] and first["api_domain"] == zoho.url
    again = requests.post(f"{zoho.url}/oauth/v2/token", data=data, timeout=T)
    assert again.json() == {"error": "invalid_code"}
    minted = refresh(zoho, refresh_token=first["refresh_token"])
    assert _crm(zoho, minted["access_token"]).status_code == 200


def test_client_credentials_grant(zoho):
    """Client-credentials flow with `soid` and `scope`; the token carries the scopes asked for.
    https://www.zoho.com/crm/developer/docs/api/v4/client-credentials.html"""
    data = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "scope": "ZohoCRM.modules.ALL",
        "soid": "ZohoCRM.808232144",
    }
    body = requests.post(f"{zoho.url}/oauth/v2/token", data=data, timeout=T).json()
    assert body["scope"] == "ZohoCRM.modules.ALL"
    headers = {"Authorization": f"Zoho-oauthtoken {body['access_token']}"}
    assert requests.get(f"{zoho.url}/crm/v8/Leads", headers=headers, timeout=T).status_code == 204
    assert _crm(zoho, body["access_token"]).json()["code"] == "OAUTH_SCOPE_MISMATCH"


def test_missing_scope_is_oauth_scope_mismatch(refresh):
    """Each call needs its scope (`ZohoCRM.modules.{module}.{op}`, `ZohoCRM.settings.fields.READ`, …);
    without it → 401 `OAUTH_SCOPE_MISMATCH` "Unauthorized", not charged.
    https://www.zoho.com/crm/developer/docs/api/v8/scopes.html"""
    with ZohoEmulator(
        scopes="ZohoCRM.modules.leads.READ,ZohoCRM.modules.contacts.WRITE,ZohoCRM.settings.fields.READ"
    ) as zoho:
        token = refresh(zoho)["access_token"]
        headers = {"Authorization": f"Zoho-oauthtoken {token}"}

        def status(method: str, path: str, **kw: object) -> int:
            return requests.request(
                method, f"{zoho.url}/crm/v8/{path}", headers=headers, timeout=T, **kw
            ).status_code  # type: ignore[arg-type]

        assert status("GET", "Leads") == 204
        assert status("GET", "settings/fields", params={"module": "Leads"}) == 200
        assert status("POST", "Contacts", json={"data": [{"Last_Name": "W"}]}) == 201  # WRITE covers CREATE
        denied = requests.post(
            f"{zoho.url}/crm/v8/Leads", json={"data": [{"Last_Name": "x"}]}, headers=headers, timeout=T
        )
        assert denied.status_code == 401
        assert denied.json() == {
            "code": "OAUTH_SCOPE_MISMATCH",
            "details": {},
            "message": "Unauthorized",
            "status": "error",
        }
        assert status("GET", "Contacts") == 401 and status("GET", "settings/modules") == 401
        assert zoho.records("Leads") == [] and zoho.credits_used == 3


def test_token_errors_have_error_key_and_no_token(zoho, refresh):
    """Failures carry `{"error": ...}` and no `access_token` (status 200, the emulator's documented
    choice). Kaizen #4: https://help.zoho.com/portal/en/community/topic/kaizen-4-troubleshooting-oauth2-0"""
    assert refresh(zoho, client_secret="wrong") == {"error": "invalid_client"}
    assert refresh(zoho, client_id="1000.OTHER") == {"error": "invalid_client"}
    assert refresh(zoho, refresh_token="1000.revoked.token") == {"error": "invalid_code"}
    assert refresh(zoho, grant_type="password") == {"error": "unsupported_grant_type"}


def test_custom_client_and_short_ttl_tokens_expire(refresh):
    """Configurable client and token lifetime; an expired token gets 401 INVALID_TOKEN.
    https://www.zoho.com/crm/developer/docs/api/v8/oauth-overview.html"""
    with ZohoEmulator(
        client_id="1000.MINE", client_secret="s3", refresh_token="1000.r", token_ttl=0.8
    ) as zoho:
        assert refresh(zoho) == {"error": "invalid_client"}
        body = refresh(zoho, client_id="1000.MINE", client_secret="s3", refresh_token="1000.r")
        assert body["expires_in"] == 1
        assert _crm(zoho, body["access_token"]).status_code == 200
        time.sleep(0.9)
        resp = _crm(zoho, body["access_token"])
        assert resp.status_code == 401
        assert resp.json() == {
            "code": "INVALID_TOKEN",
            "details": {},
            "message": "invalid oauth token",
            "status": "error",
        }


def test_crm_calls_need_the_zoho_oauthtoken_header(zoho, refresh):
    """No header or another scheme → 401 AUTHENTICATION_FAILURE; unknown token → 401 INVALID_TOKEN.
    https://www.zoho.com/crm/developer/docs/api/v8/status-codes.html"""
    token = refresh(zoho)["access_token"]
    missing = _crm(zoho, None)
    assert missing.status_code == 401 and missing.json()["code"] == "AUTHENTICATION_FAILURE"
    bearer = _crm(zoho, token, auth_prefix="Bearer ")
    assert bearer.status_code == 401 and bearer.json()["code"] == "AUTHENTICATION_FAILURE"
    unknown = _crm(zoho, "1000.not.a.token")
    assert unknown.status_code == 401 and unknown.json()["code"] == "INVALID_TOKEN"
    assert [c["status"] for c in zoho.calls[-3:]] == [401, 401, 401]
    assert zoho.credits_used == 0  # refused calls are not charged


def test_expire_tokens_then_refresh_again(zoho, refresh):
    """Forced expiry: old tokens fail with INVALID_TOKEN, the refresh token still mints new ones."""
    token = refresh(zoho)["access_token"]
    zoho.expire_tokens()
    assert _crm(zoho, token).json()["code"] == "INVALID_TOKEN"
    assert _crm(zoho, refresh(zoho)["access_token"]).status_code == 200


def test_revoke_refresh_token(zoho, refresh):
    """`POST /oauth/v2/token/revoke?token=` → `{"status": "success"}`; the token stops working.
    https://www.zoho.com/accounts/protocol/oauth/web-apps/revoke-token.html"""
    resp = requests.post(
        f"{zoho.url}/oauth/v2/token/revoke", params={"token": DEFAULT_REFRESH_TOKEN}, timeout=T
    )
    assert resp.json() == {"status": "success"}
    assert refresh(zoho) == {"error": "invalid_code"}


def test_token_calls_are_logged_without_secrets(zoho, refresh):
    """The call log records token calls by path only: no query string, secret or token."""
    refresh(zoho)
    requests.post(
        f"{zoho.url}/oauth/v2/token",
        params={"grant_type": "refresh_token", "client_secret": DEFAULT_CLIENT_SECRET},
        timeout=T,
    )
    log = repr(zoho.calls)
    assert zoho.calls[0]["path"] == "/oauth/v2/token"
    assert DEFAULT_CLIENT_SECRET not in log and DEFAULT_REFRESH_TOKEN not in log
