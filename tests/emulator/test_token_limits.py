"""Zoho Accounts' token-issuing limits, Zoho's by default and configurable.

Pages followed: https://www.zoho.com/crm/developer/docs/api/v8/token-validity.html ("Access Token": at
most 15 active per refresh token, the 16th invalidating the oldest; at most 10 from a refresh token in
10 minutes; past that "Access Denied" — the body quoted below) and Kaizen #43 "Tokens and Limitations"
(https://help.zoho.com/portal/en/community/topic/kaizen-43-tokens-and-limitations: the status code past
the limit "remains 200").
"""

from __future__ import annotations

import time

import requests

from zoho_crm_emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_GRANT_CODE, ZohoEmulator

T = 5
ACCESS_DENIED = {
    "error_description": "You have made too many requests continuously. Please try again after some time.",
    "error": "Access Denied",
    "status": "failure",
}


def _token_call(zoho: ZohoEmulator, **data: str) -> requests.Response:
    form = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET, **data}
    return requests.post(f"{zoho.url}/oauth/v2/token", data=form, timeout=T)


def _valid(zoho: ZohoEmulator, token: str) -> bool:
    resp = requests.get(
        f"{zoho.url}/crm/v8/org", headers={"Authorization": f"Zoho-oauthtoken {token}"}, timeout=T
    )
    return resp.status_code == 200


def test_eleventh_token_in_ten_minutes_is_access_denied_with_http_200(zoho, refresh):
    """token-validity.html: 10 access tokens per refresh token per 10 minutes; the 11th call gets
    "Access Denied" (Kaizen #43: HTTP 200), and the tokens already issued keep working."""
    tokens = [refresh(zoho)["access_token"] for _ in range(10)]
    assert all(tokens) and len(set(tokens)) == 10
    denied = _token_call(zoho, grant_type="refresh_token", refresh_token=zoho.config.refresh_token)
    assert denied.status_code == 200
    assert denied.json() == ACCESS_DENIED
    assert all(_valid(zoho, t) for t in tokens)
    state = requests.get(f"{zoho.url}/__emulator__/tokens", timeout=T).json()
    assert state["refused"] == 1 and state["issue_limit"] == 10 and state["max_active"] == 15
    assert zoho.config.refresh_token not in str(state)  # a refresh token is a secret, even here


def test_the_limit_counts_per_refresh_token(zoho, refresh):
    """The limit is "from a refresh token": another refresh token of the same client still gets tokens."""
    for _ in range(10):
        refresh(zoho)
    assert "error" in refresh(zoho)
    other = _token_call(
        zoho, grant_type="authorization_code", code=DEFAULT_GRANT_CODE, redirect_uri="http://localhost/cb"
    ).json()
    assert other["access_token"] and other["refresh_token"]
    again = _token_call(zoho, grant_type="refresh_token", refresh_token=other["refresh_token"]).json()
    assert again["access_token"]


def test_the_window_slides_and_reset_starts_afresh(refresh):
    """After the window, tokens are issued again; `reset()` (a new org, a new day) clears the windows."""
    with ZohoEmulator(token_issue_limit=2, token_issue_window=0.5) as zoho:
        assert "access_token" in refresh(zoho) and "access_token" in refresh(zoho)
        assert refresh(zoho) == ACCESS_DENIED
        time.sleep(1.0)  # twice the window
        assert "access_token" in refresh(zoho)
        zoho.reset()
        assert "access_token" in refresh(zoho) and "access_token" in refresh(zoho)


def test_sixteenth_active_token_invalidates_the_oldest(refresh):
    """token-validity.html: at most 15 active access tokens per refresh token; requesting the 16th
    invalidates the oldest (INVALID_TOKEN on a CRM call), the others stay valid. The issuing limit is
    lifted here, so that 16 tokens can be had without waiting 10 minutes."""
    with ZohoEmulator(token_issue_limit=None) as zoho:
        tokens = [refresh(zoho)["access_token"] for _ in range(15)]
        assert all(_valid(zoho, t) for t in tokens)
        newest = refresh(zoho)["access_token"]
        assert not _valid(zoho, tokens[0])
        resp = requests.get(
            f"{zoho.url}/crm/v8/org", headers={"Authorization": f"Zoho-oauthtoken {tokens[0]}"}, timeout=T
        )
        assert resp.status_code == 401 and resp.json()["code"] == "INVALID_TOKEN"
        assert all(_valid(zoho, t) for t in [*tokens[1:], newest])


def test_expired_tokens_do_not_count_as_active(refresh):
    """Only active tokens count towards the 15: expired ones leave room without evicting a valid one."""
    with ZohoEmulator(token_issue_limit=None) as zoho:
        for _ in range(15):
            refresh(zoho)
        zoho.expire_tokens()
        fresh = [refresh(zoho)["access_token"] for _ in range(15)]
        assert _valid(zoho, fresh[0])  # the 15 expired ones made room: nothing valid was evicted
        refresh(zoho)
        assert not _valid(zoho, fresh[0]) and _valid(zoho, fresh[1])


def test_limits_can_be_turned_off(refresh):
    """A caller may lift both limits (e.g. a suite of many clients sharing one emulator)."""
    with ZohoEmulator(token_issue_limit=None, max_active_tokens=None) as zoho:
        tokens = [refresh(zoho)["access_token"] for _ in range(20)]
        assert all(tokens) and all(_valid(zoho, t) for t in tokens)


def test_revoking_a_refresh_token_invalidates_its_access_tokens(zoho, refresh):
    """token-validity.html (v2): revoking a refresh token makes its access tokens invalid too."""
    first = _token_call(
        zoho, grant_type="authorization_code", code=DEFAULT_GRANT_CODE, redirect_uri="http://localhost/cb"
    ).json()
    assert _valid(zoho, first["access_token"])
    revoked = requests.post(
        f"{zoho.url}/oauth/v2/token/revoke", params={"token": first["refresh_token"]}, timeout=T
    )
    assert revoked.json() == {"status": "success"}
    assert not _valid(zoho, first["access_token"])
