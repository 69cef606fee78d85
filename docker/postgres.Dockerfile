# PostgreSQL 15 from Debian, for the warehouse, the MLflow backend and the
# orchestrator's storage. Its databases and their owner are created on the first
# start from the environment (see postgres-entrypoint.sh).
ARG BASE_IMAGE=roadtest/debian:bookworm

FROM ${BASE_IMAGE} AS postgres
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    groupadd --system --gid 10003 postgres \
    && useradd --system --uid 10003 --gid postgres --home-dir /var/lib/postgresql postgres \
    && apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
    && install -d -o postgres -g postgres -m 0775 /var/run/postgresql
COPY docker/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data \
    PGPORT=5432 \
    ROADTEST_DB_USER=roadtest \
    ROADTEST_DB_NAMES="warehouse mlflow dagster"
USER 10003:10003
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=5 \
    CMD ["sh", "-c", "pg_isready -q -h 127.0.0.1 -p \"$PGPORT\" -d warehouse -U \"$ROADTEST_DB_USER\""]
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
