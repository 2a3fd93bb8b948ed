# PostVault: API, web pages and scheduler in one process (`postvault serve`).
FROM python:3.11-slim

# WeasyPrint needs Pango/HarfBuzz; the fonts (those of scripts/install-fonts) make snapshots
# render Latin, Arabic, CJK, Hmong and emoji the same on every machine.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libffi8 \
      fonts-dejavu-core fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji fontconfig \
      postgresql-client \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 postvault
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY retention_schedules ./retention_schedules
# Editable install: the migrations, alembic.ini and schedules stay beside the code in /app,
# where PostVault looks for them.
RUN pip install --no-cache-dir -e . \
 && mkdir -p /data && chown postvault:postvault /data

USER postvault
ENV POSTVAULT_HOST=0.0.0.0 \
    POSTVAULT_PORT=8000 \
    POSTVAULT_DATABASE_URL=sqlite:////data/postvault.db \
    POSTVAULT_ARCHIVE_DIR=/data/archive \
    POSTVAULT_SCHEDULES_DIR=/app/retention_schedules
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["postvault", "serve"]
