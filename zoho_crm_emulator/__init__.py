"""A Zoho CRM emulator: a real HTTP server on loopback that answers as Zoho's documented API does.

See README.md in this folder for options, the introspection and fault APIs, and what could not be
established about Zoho.
"""

from __future__ import annotations

from .server import ZohoEmulator
from .state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_GRANT_CODE,
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_TOKEN_TTL,
    EmulatorConfig,
    EmulatorState,
)

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_GRANT_CODE",
    "DEFAULT_REFRESH_TOKEN",
    "DEFAULT_TOKEN_TTL",
    "EmulatorConfig",
    "EmulatorState",
    "ZohoEmulator",
]
