# syntax=docker/dockerfile:1
# Dakora registry server: multi-stage (node builds the Studio, Python builds the wheel),
# slim Python 3.11 runtime, non-root, git installed.

# The Studio (studio/: React + Vite) → /studio/dist; dependencies first for the cache.
FROM node:20-slim AS studio
WORKDIR /studio
COPY studio/package.json studio/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY studio/ ./
RUN npm run build

FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir build==1.2.2
COPY pyproject.toml setup.py MANIFEST.in README.md alembic.ini ./
COPY registry/ registry/
COPY hooks/ hooks/
COPY api/ api/
COPY cli/ cli/
COPY client/ client/
COPY alembic/ alembic/
# setup.py's build hook puts the built Studio into the wheel (dakora/api/studio_dist/),
# so the runtime image serves it at /studio/.
COPY --from=studio /studio/dist/ studio/dist/
RUN python -m build --wheel --outdir /dist

FROM python:3.11-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends git=1:2.* \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir "$(ls /tmp/dakora-*.whl)[server,azure]" && rm /tmp/*.whl
RUN useradd --create-home --uid 10001 dakora \
    && mkdir -p /data /app \
    && chown dakora:dakora /data
COPY --chown=dakora:dakora sample-repo/ /app/sample-repo/
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
USER 10001:10001
WORKDIR /app
ENV DAKORA_DATA_DIR=/data \
    DAKORA_HOST=0.0.0.0 \
    DAKORA_PORT=54321 \
    PYTHONUNBUFFERED=1
EXPOSE 54321
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os,urllib.request;urllib.request.urlopen('http://127.0.0.1:%s/api/health' % os.environ.get('DAKORA_PORT','54321'), timeout=2)"]
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["serve"]
