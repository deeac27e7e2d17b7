# Production image: gunicorn serving the app; run the same image as `rqworker` for workers.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ENVIRONMENT=production
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=build-only-collectstatic-key-not-used-at-runtime-000000000000 \
    DATABASE_URL=postgres://build@localhost/build \
    python manage.py collectstatic --no-input -v 0
RUN useradd --create-home factortrace && chown -R factortrace /app
USER factortrace
EXPOSE 8000
CMD ["gunicorn", "factortrace.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "120"]
