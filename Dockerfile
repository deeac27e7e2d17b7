# Production image. Build stage: compilers and wheels. Final stage: the runtime libraries only (libpq,
# WeasyPrint's pango/harfbuzz/fontconfig), no compilers, a non-root user, static files collected.
# One image, several roles (scripts/entrypoint.sh): web (gunicorn), worker (rqworker), migrate, check.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libpq-dev \
 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -r /tmp/requirements.txt

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ENVIRONMENT=production LOG_FORMAT=json \
    PATH=/opt/venv/bin:$PATH MEDIA_ROOT=/data/media
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libpango-1.0-0 libpangoft2-1.0-0 \
      libharfbuzz0b libharfbuzz-subset0 libfontconfig1 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --uid 10001 factortrace \
 && mkdir -p /data/media && chown factortrace /data/media
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=factortrace . .
RUN SECRET_KEY=build-only-collectstatic-key-0123456789abcdef0123456789abcdef \
    DATABASE_URL=postgres://build@localhost/build \
    python manage.py collectstatic --no-input -v 0 \
 && chown -R factortrace /app/.local
USER factortrace
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import sys, urllib.request as u; sys.exit(0 if u.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=4).status == 200 else 1)"
ENTRYPOINT ["/app/scripts/entrypoint.sh"]
CMD ["web"]
