"""Health of the parts a request depends on: PostgreSQL and the job queue."""

from __future__ import annotations

from django.conf import settings
from django.db import connection


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        connection.close()
        return f"down: {exc.__class__.__name__}"
    return "ok"


def check_redis() -> str:
    if not settings.REDIS_URL:
        return "ok (no Redis: jobs run in-process)"
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        client.ping()
    except Exception as exc:
        return f"down: {exc.__class__.__name__}"
    return "ok"


def health() -> tuple[dict[str, str], int]:
    database, queue = check_database(), check_redis()
    down = [
        name
        for name, state in (("database", database), ("redis", queue))
        if not state.startswith("ok")
    ]
    body = {
        "status": "ok" if not down else "down: " + ", ".join(down),
        "database": database,
        "redis": queue,
        "version": settings.VERSION,
    }
    return body, 503 if down else 200
