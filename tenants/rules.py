"""Subdomain rules for sign-up: DNS-safe, unique, and not one of the names the product keeps."""

from __future__ import annotations

import re

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,61}[a-z0-9]$")

RESERVED_SLUGS = frozenset(
    {
        "www",
        "admin",
        "api",
        "public",
        "static",
        "media",
        "app",
        "apps",
        "mail",
        "smtp",
        "imap",
        "pop",
        "ftp",
        "ns1",
        "ns2",
        "dns",
        "help",
        "support",
        "status",
        "docs",
        "doc",
        "blog",
        "billing",
        "pay",
        "payments",
        "stripe",
        "webhook",
        "webhooks",
        "login",
        "logout",
        "signup",
        "register",
        "account",
        "accounts",
        "auth",
        "sso",
        "oauth",
        "dashboard",
        "operator",
        "root",
        "system",
        "internal",
        "test",
        "tests",
        "staging",
        "dev",
        "demo-admin",
        "assets",
        "cdn",
        "files",
        "rq",
        "health",
        "information-schema",
        "factortrace",
        "localhost",
    }
)


def slug_problem(slug: str) -> str | None:
    """Return why `slug` cannot be a subdomain, or None when it can."""
    if len(slug) < 3:
        return "Use at least 3 characters."
    if len(slug) > 63:
        return "Use at most 63 characters."
    if not SLUG_RE.match(slug):
        return (
            "Use lowercase letters, digits and hyphens; start with a letter and end with a letter "
            "or digit."
        )
    if "--" in slug:
        return "Two hyphens in a row are not allowed."
    if slug in RESERVED_SLUGS or slug.startswith("pg-"):
        return f"“{slug}” is reserved. Please choose another subdomain."
    return None


def schema_name_for(slug: str) -> str:
    # PostgreSQL identifiers are safest without hyphens.
    return slug.replace("-", "_")
