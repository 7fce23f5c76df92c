"""Zoho Accounts' token endpoint: `POST /oauth/v2/token` and `/oauth/v2/token/revoke`.

Follows https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token.html (authorization_code),
.../web-apps/access-token-expiry.html (refresh_token) and
https://www.zoho.com/crm/developer/docs/api/v4/client-credentials.html (client_credentials).
Parameters are read from the query string or the form body (Zoho's SDKs send either). Failures carry
`{"error": "<code>"}` and no `access_token`; Zoho's HTTP status for them is not documented, so the
emulator answers 200 as Zoho Accounts is widely observed to do (see the emulator README).
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from .scopes import parse_scopes
from .state import EmulatorState, TokenRefused

# Zoho's answer past the issuing limit, with HTTP 200 (v8 token-validity.html; Kaizen #43).
ACCESS_DENIED = {
    "error_description": "You have made too many requests continuously. Please try again after some time.",
    "error": "Access Denied",
    "status": "failure",
}


def _params(request: Request) -> dict[str, str]:
    params = dict(request.args.items())
    params.update(request.form.items())
    return params


def token_response(state: EmulatorState, request: Request) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for one token call."""
    p = _params(request)
    cfg = state.config
    grant = p.get("grant_type", "")
    if grant not in ("refresh_token", "authorization_code", "client_credentials"):
        return 200, {"error": "unsupported_grant_type"}
    if p.get("client_id") != cfg.client_id or p.get("client_secret") != cfg.client_secret:
        return 200, {"error": "invalid_client"}
    body: dict[str, Any] = {}
    if grant == "refresh_token":
        source = p.get("refresh_token", "")
        scopes = state.tokens.refresh_scopes(source)
        if scopes is None:
            return 200, {"error": "invalid_code"}
    elif grant == "authorization_code":
        scopes = state.tokens.use_grant_code(p.get("code", ""))
        if scopes is None:
            return 200, {"error": "invalid_code"}
        source = body["refresh_token"] = state.tokens.issue_refresh(scopes)
    else:  # client_credentials: the scopes asked for; the limits count per client
        scopes = parse_scopes(p.get("scope")) or state.tokens.default_scopes
        source = f"client:{cfg.client_id}"
    try:
        access = state.tokens.issue_access(scopes, grant=source)
    except TokenRefused:
        return 200, dict(ACCESS_DENIED)
    body = {
        "access_token": access,
        **body,
        "scope": " ".join(sorted(scopes)),
        "api_domain": state.url,
        "token_type": "Bearer",
        "expires_in": max(1, round(state.tokens.ttl)),
    }
    return 200, body


def revoke_response(state: EmulatorState, request: Request) -> tuple[int, dict[str, Any]]:
    """`POST /oauth/v2/token/revoke?token=<refresh token>` → `{"status": "success"}`."""
    token = _params(request).get("token", "")
    if state.tokens.revoke_refresh(token):
        return 200, {"status": "success"}
    return 200, {"error": "invalid_code"}
