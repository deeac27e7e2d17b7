"""Provide PostgreSQL and Redis for development and tests, then run a command with them.

    python scripts/services.py exec -- python manage.py migrate_schemas
    python scripts/services.py env        # print the variables, for `eval`
    python scripts/services.py stop       # stop the embedded servers

DATABASE_URL / REDIS_URL set in the environment win. Otherwise:
- PostgreSQL: an embedded server from the `pgserver` wheel, data in .local/pgdata, reached by a
  Unix socket in that folder (as root, pgserver runs the server as its own system user).
- Redis: the `redis-server` on PATH, started on a Unix socket in .local/; without one, REDIS_URL
  stays empty and jobs run in-process after their transaction commits.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
PGDATA = LOCAL / "pgdata"
REDIS_DIR = LOCAL / "redis"
REDIS_SOCKET = REDIS_DIR / "redis.sock"
DB_NAME = "factortrace"


def _say(message: str) -> None:
    print(f"[services] {message}", file=sys.stderr, flush=True)


def ensure_postgres() -> str:
    import pgserver  # the embedded server, installed from requirements.txt

    LOCAL.mkdir(exist_ok=True)
    server = pgserver.get_server(PGDATA, cleanup_mode=None)
    info = server.get_postmaster_info()
    socket_dir, port = info.socket_dir, info.port or 5432
    # DB_NAME is a constant of this script, not input.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DB_NAME};")
        _say(f"created database {DB_NAME} in {PGDATA.relative_to(ROOT)}")
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}:{port}/{DB_NAME}"


def _redis_ping(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except Exception:
        return False


def ensure_redis() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        _say("no redis-server on PATH: jobs will run in-process")
        return ""
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    url = f"unix://{REDIS_SOCKET}"
    if _redis_ping(url):
        return url
    subprocess.run(
        [
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(REDIS_SOCKET),
            "--unixsocketperm",
            "700",
            "--daemonize",
            "yes",
            "--dir",
            str(REDIS_DIR),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(REDIS_DIR / "redis.log"),
            "--pidfile",
            str(REDIS_DIR / "redis.pid"),
        ],
        check=True,
    )
    for _ in range(50):
        if _redis_ping(url):
            _say(f"started redis-server on {REDIS_SOCKET.relative_to(ROOT)}")
            return url
        time.sleep(0.1)
    raise SystemExit(f"redis-server did not answer on {REDIS_SOCKET}; see {REDIS_DIR}/redis.log")


def service_env() -> dict[str, str]:
    env: dict[str, str] = {}
    env["DATABASE_URL"] = os.environ.get("DATABASE_URL") or ensure_postgres()
    if "REDIS_URL" in os.environ:
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    else:
        env["REDIS_URL"] = ensure_redis()
    return env


def stop() -> None:
    pid_file = REDIS_DIR / "redis.pid"
    if pid_file.exists():
        subprocess.run(["kill", pid_file.read_text().strip()], check=False)
        _say("stopped redis-server")
    if (PGDATA / "postmaster.pid").exists():
        from pgserver._commands import pg_ctl

        user = "pgserver" if os.geteuid() == 0 else None
        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=PGDATA, user=user)
        _say("stopped embedded PostgreSQL")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"exec", "env", "stop"}:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "stop":
        stop()
        return 0
    env = service_env()
    if argv[0] == "env":
        for key, value in env.items():
            print(f"export {key}='{value}'")
        return 0
    command = argv[1:]
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("exec needs a command after --", file=sys.stderr)
        return 2
    os.environ.update(env)
    os.execvp(command[0], command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
