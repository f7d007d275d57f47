# syntax=docker/dockerfile:1.7
# The API image: FastAPI + tritonclient + ffmpeg, no torch and no engine requirements.
# Build from the repository root:  docker build -f docker/api.Dockerfile -t qwen-tts-api:0.1.0 .
# The API speaks to the engine only through the wire contract (tts_contract: stdlib and numpy); the
# engine package and requirements/engine.txt are never in this image.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
COPY requirements/api.txt /tmp/requirements/api.txt
RUN /opt/venv/bin/pip install --no-compile -r /tmp/requirements/api.txt \
 && /opt/venv/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is not None)"

FROM ${PYTHON_IMAGE}
# Debian bookworm versions, pinned (bump together with the base image).
ARG FFMPEG_VERSION=7:5.1.9-0+deb12u1
RUN apt-get update \
 && apt-get install -y --no-install-recommends "ffmpeg=${FFMPEG_VERSION}" \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 app \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root api/ /app/api/
COPY --chown=root:root tts_contract/ /app/tts_contract/
COPY --chown=root:root --chmod=0755 docker/api-entrypoint.sh /usr/local/bin/api-entrypoint.sh

# WEB_CONCURRENCY: uvicorn workers. PROMETHEUS_MULTIPROC_DIR: shared by the workers, emptied at
# start (mount a tmpfs there). QWEN_TTS_DATA_DIR: SQLite when no QWEN_TTS_DATABASE_URL is given.
# MALLOC_ARENA_MAX: two malloc arenas, not one per thread: the soak (benchmarks/soak.py) found
# resident memory creeping up with glibc's default, flat with this (README, "Soak").
ENV PATH=/opt/venv/bin:$PATH \
    MALLOC_ARENA_MAX=2 \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WEB_CONCURRENCY=2 \
    PROMETHEUS_MULTIPROC_DIR=/run/prometheus-multiproc \
    QWEN_TTS_DATA_DIR=/data
RUN mkdir -p /run/prometheus-multiproc /data \
 && chown app:app /run/prometheus-multiproc /data

USER 10001:10001
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/v1/health/live', timeout=4)"]
ENTRYPOINT ["/usr/local/bin/api-entrypoint.sh"]
