"""Who is asking and which access groups they have: from the login, a proxy header or settings.

Pure functions; the page passes in what Streamlit knows (``st.user``, ``st.context.headers``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.config import Settings

# The group every member of staff belongs to (see corpus/catalog.toml).
ALL_STAFF = "alla"
GROUPS_CLAIM = "groups"
_SEPARATORS = re.compile(r"[,;\s]+")


@dataclass(frozen=True, slots=True)
class User:
    """The person asking and the access groups their answers are limited to."""

    name: str
    groups: tuple[str, ...]
    source: str  # "oidc" | "header" | "dev"


def parse_groups(value: object) -> tuple[str, ...]:
    """Access groups from a header or claim: a list, or a string separated by commas,
    semicolons or spaces. Order kept, duplicates and blanks dropped."""
    if value is None:
        return ()
    items = [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
    groups: list[str] = []
    for item in items:
        for group in _SEPARATORS.split(item):
            if group and group not in groups:
                groups.append(group)
    return tuple(groups)


def _staff(groups: tuple[str, ...]) -> tuple[str, ...]:
    """A signed-in user is staff, so always in the all-staff group."""
    return groups if ALL_STAFF in groups else (ALL_STAFF, *groups)


def resolve_user(
    settings: Settings,
    *,
    oidc_configured: bool,
    oidc_user: Mapping[str, Any] | None,
    headers: Mapping[str, str],
) -> User | None:
    """The current user: OIDC login when configured, else the trusted proxy header when
    configured, else the local development user.

    Args:
        settings: ``auth_header``, ``groups_header``, ``dev_user`` and ``dev_groups``.
        oidc_configured: Whether Streamlit's OIDC login is set up (``[auth]`` in the secrets).
        oidc_user: The claims of ``st.user`` (with ``is_logged_in``).
        headers: The request headers (``st.context.headers``).

    Returns:
        The user, or None when a login is configured but nobody is signed in (the page then
        asks for a login and shows nothing else). Headers are only trusted when
        ``settings.auth_header`` names them: a browser cannot give itself groups otherwise.
    """
    if oidc_configured:
        if not oidc_user or not oidc_user.get("is_logged_in"):
            return None
        name = str(
            oidc_user.get("name") or oidc_user.get("email") or oidc_user.get("sub") or "inloggad"
        )
        return User(name, _staff(parse_groups(oidc_user.get(GROUPS_CLAIM))), "oidc")
    if settings.auth_header:
        lowered = {str(k).lower(): str(v) for k, v in headers.items()}
        name = lowered.get(settings.auth_header.lower(), "").strip()
        if not name:
            return None
        groups = parse_groups(lowered.get(settings.groups_header.lower(), ""))
        return User(name, _staff(groups), "header")
    return User(settings.dev_user, parse_groups(list(settings.dev_groups)), "dev")
