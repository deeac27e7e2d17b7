"""migrate_schemas under a PostgreSQL advisory lock: when several containers start at once, one
migrates and the others wait for it (then find nothing left to do)."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

# pg_advisory_lock key: any constant shared by every starter ("FTMG" in ASCII).
LOCK_KEY = 0x46544D47


class Command(BaseCommand):
    help = "Run migrate_schemas while holding a database-wide advisory lock."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--lock-timeout",
            type=float,
            default=600.0,
            help="seconds to wait for another starter's migration (default 600)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        timeout_ms = int(options["lock_timeout"] * 1000)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = %s", [f"{timeout_ms}ms"])
            try:
                cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
            except Exception as exc:
                raise CommandError(
                    f"another starter has held the migration lock for {options['lock_timeout']} s; "
                    "nothing was migrated"
                ) from exc
            cursor.execute("SET lock_timeout = 0")
        self.stdout.write("migration lock held")
        try:
            call_command("migrate_schemas", interactive=False, verbosity=options["verbosity"])
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
        self.stdout.write("migrations done")
