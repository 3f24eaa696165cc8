# syntax=docker/dockerfile:1
# Every image of the CRM, from the repository root. Two targets:
#   docker build --target service --build-arg SERVICE=clients -t crm/clients .   # clients, deals,
#                                                       # activities, ares, importer
#   docker build --target gateway -t crm/gateway .
# The same image runs the service and its one-shot migration:
#   docker run --rm -e CLIENTS_DATABASE_URL=... crm/clients python -m crm_common.migrate --queues services/clients
# PYTHON_IMAGE is the base (an exact tag; pin a digest with
# --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:... where you can reach the registry).
# PIP_CERT: a CA bundle pip should trust while building (a proxy's; mount it with --volume).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS python
ENV LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH \
    CRM_VAR_DIR=/app/var \
    EVENTLET_NO_GREENDNS=yes
# EVENTLET_NO_GREENDNS: eventlet's own resolver caches answers for their TTL (a day from
# podman's DNS), so a service would keep dialling a restarted broker's old address; the
# system resolver asks again on every reconnect.
RUN groupadd --system --gid 10001 crm \
 && useradd --system --uid 10001 --gid crm --home-dir /app --no-create-home \
            --shell /usr/sbin/nologin crm

# Dependencies, pinned by constraints.txt, into /opt/venv. Each package's dependencies are
# installed from its pyproject.toml alone (on a placeholder package), so their layers stay
# cached until those change; the code itself is a quick --no-deps install on top. The shared
# library's layers are the same for every image.
FROM python AS deps
ARG PIP_CERT=
WORKDIR /src
COPY constraints.txt ./
COPY libs/crm_common/pyproject.toml libs/crm_common/
RUN python3 -m venv /opt/venv \
 && mkdir -p libs/crm_common/src/_placeholder && touch libs/crm_common/src/_placeholder/__init__.py \
 && pip install ${PIP_CERT:+--cert "$PIP_CERT"} -c constraints.txt ./libs/crm_common
COPY libs/crm_common/src libs/crm_common/src
RUN rm -r libs/crm_common/src/_placeholder \
 && pip install --no-deps --force-reinstall ./libs/crm_common

FROM deps AS build-service
ARG SERVICE=
ARG PIP_CERT=
RUN test -n "${SERVICE}" || { echo "build the service target with --build-arg SERVICE=<name>" >&2; exit 1; }
COPY services/${SERVICE}/pyproject.toml services/${SERVICE}/
RUN mkdir -p services/${SERVICE}/src/_placeholder && touch services/${SERVICE}/src/_placeholder/__init__.py \
 && pip install ${PIP_CERT:+--cert "$PIP_CERT"} -c constraints.txt ./services/${SERVICE}
COPY services/${SERVICE}/src services/${SERVICE}/src
RUN rm -r services/${SERVICE}/src/_placeholder \
 && pip install --no-deps --force-reinstall ./services/${SERVICE}

FROM deps AS build-gateway
ARG PIP_CERT=
COPY gateway/pyproject.toml gateway/
RUN mkdir -p gateway/src/_placeholder && touch gateway/src/_placeholder/__init__.py \
 && pip install ${PIP_CERT:+--cert "$PIP_CERT"} -c constraints.txt ./gateway
COPY gateway/src gateway/src
RUN rm -r gateway/src/_placeholder \
 && pip install --no-deps --force-reinstall ./gateway

# A nameko service: its config and migrations at the paths its commands resolve from /app.
FROM python AS service
ARG SERVICE=
COPY --from=build-service /opt/venv /opt/venv
WORKDIR /app
COPY services/${SERVICE}/config.yaml services/${SERVICE}/config.yaml
COPY services/${SERVICE}/migrations services/${SERVICE}/migrations
# var/ only matters without a <SERVICE>_DATABASE_URL (SQLite, one replica) or attachments storage.
RUN mkdir -p /app/var && chown crm:crm /app/var
ENV CRM_SERVICE=${SERVICE}
USER 10001:10001
# The container only (nameko is PID 1 and running): a check through the broker or the database
# would mark every replica unhealthy during an outage of either (crm_common.healthcheck).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["python", "-m", "crm_common.healthcheck"]
CMD ["python", "-m", "crm_common.serve"]

# The gateway (REST API, OpenAPI, web UI) under gunicorn: GATEWAY_WORKERS (2),
# GATEWAY_THREADS (8), ... (docs/operations.md, "The gateway under gunicorn").
FROM python AS gateway
COPY --from=build-gateway /opt/venv /opt/venv
WORKDIR /app
COPY gateway/migrations gateway/migrations
ENV GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080 \
    CRM_HEALTH_URL=http://127.0.0.1:8080/healthz
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python", "-m", "crm_common.healthcheck"]
CMD ["gunicorn", "-c", "python:crm_gateway.gunicorn_conf", "crm_gateway.wsgi:app"]
