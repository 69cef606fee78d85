# The images of roadtest's own processes, one build target each, each with only the
# dependencies its process imports (pyproject.toml's base plus the extras named here):
#   api        prediction API, ingest and ETL: the base alone (ONNX Runtime, scikit-learn,
#              MLflow client; no torch, Streamlit, matplotlib, pandas or MLflow server)
#   dashboard  Streamlit dashboard: base + dashboard (no torch)
#   worker     pipeline, training, MLflow server, Dagster orchestrator, monitor:
#              base + train, orchestration, tracking-server (CPU torch)
# They share the Python runtime and pip's download cache, so building all three
# costs little more than building the worker.
#
# Build from the repository root with BuildKit, e.g.
#   DOCKER_BUILDKIT=1 docker build --network host -f docker/roadtest.Dockerfile \
#     --target api --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt -t roadtest/api .
# The CA secret is optional (networks that inspect TLS need it); build/wheelhouse
# (must exist, may be empty) is searched before PyPI and holds the CPU torch wheel.
# With PIP_NO_INDEX=1 every package must come from that wheelhouse.

ARG BASE_IMAGE=roadtest/debian:bookworm

# The local wheelhouse as a stage of its own: mounting it from here keys the dependency
# layers on its content alone, not on the whole build context (the source changes often).
FROM scratch AS wheelhouse
COPY build/wheelhouse/ /

FROM ${BASE_IMAGE} AS runtime
ENV LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update \
    && apt-get install -y --no-install-recommends python3 libgomp1 \
    && groupadd --system --gid 10001 roadtest \
    && useradd --system --uid 10001 --gid roadtest --create-home --home-dir /home/roadtest roadtest \
    && install -d -o roadtest -g roadtest /var/lib/roadtest
COPY docker/healthcheck.sh /usr/local/bin/healthcheck

FROM runtime AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG PIP_NO_INDEX=0
ENV PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PIP_FIND_LINKS=/wheels \
    PIP_NO_INDEX=${PIP_NO_INDEX}
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update \
    && apt-get install -y --no-install-recommends python3-venv \
    && python3 -m venv /opt/venv
WORKDIR /build
# The pins every package is constrained to: the lock the test suite runs with.
ARG LOCK_FILE=requirements.lock
COPY pyproject.toml docker/project_requirements.py ./
COPY ${LOCK_FILE} ./requirements.lock

# Dependencies only, one stage per image: these layers stay cached while just the source
# changes. Each stage refuses, after installing, the packages its image must not carry.
FROM builder AS api-deps
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN --mount=type=secret,id=ca \
    --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,from=wheelhouse,target=/wheels \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
    && python3 project_requirements.py pyproject.toml > requirements.txt \
    && pip install -c requirements.lock -r requirements.txt \
    && pip check \
    && ! pip list --format=freeze 2>/dev/null \
    | grep -i -E '^(torch|nvidia-[^=]*|onnx|matplotlib|streamlit|plotly|pandas|mlflow|flask|dagster)=='

FROM builder AS dashboard-deps
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN --mount=type=secret,id=ca \
    --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,from=wheelhouse,target=/wheels \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
    && python3 project_requirements.py pyproject.toml dashboard > requirements.txt \
    && pip install -c requirements.lock -r requirements.txt \
    && pip check \
    && ! pip list --format=freeze 2>/dev/null \
    | grep -i -E '^(torch|nvidia-[^=]*|onnx|matplotlib|mlflow|flask|dagster)=='

FROM builder AS worker-deps
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG WORKER_EXTRAS=train,orchestration,tracking-server
# Only the local CPU wheel carries the +cpu label: pip can never fall back to a CUDA build.
ARG TORCH_REQUIREMENT="torch==2.13.0+cpu"
RUN --mount=type=secret,id=ca \
    --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,from=wheelhouse,target=/wheels \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
    && python3 project_requirements.py pyproject.toml "$WORKER_EXTRAS" > requirements.txt \
    && echo "$TORCH_REQUIREMENT" >> requirements.txt \
    && pip install -c requirements.lock -r requirements.txt \
    && ! pip list --format=freeze 2>/dev/null | grep -i -E '^nvidia-[^=]*=='

# The roadtest package itself, as a wheel the final images install without a build backend.
FROM builder AS wheel
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN --mount=type=secret,id=ca \
    --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,from=wheelhouse,target=/wheels \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
    && pip install "setuptools>=68"
COPY README.md ./
COPY src ./src
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /dist .

FROM runtime AS api
COPY --from=api-deps /opt/venv /opt/venv
RUN --mount=type=bind,from=wheel,source=/dist,target=/dist \
    /opt/venv/bin/pip install --no-deps --no-index --no-cache-dir /dist/roadtest-*.whl
ENV PATH=/opt/venv/bin:$PATH \
    ROADTEST_HOME=/var/lib/roadtest \
    ROADTEST_BIND_HOST=127.0.0.1 \
    ROADTEST_API_PORT=8000
USER 10001:10001
WORKDIR /var/lib/roadtest
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["sh", "-c", "healthcheck \"$ROADTEST_API_PORT\" /v1/health"]
CMD ["sh", "-c", "exec roadtest serve --host \"$ROADTEST_BIND_HOST\" --port \"$ROADTEST_API_PORT\""]

FROM runtime AS dashboard
COPY --from=dashboard-deps /opt/venv /opt/venv
RUN --mount=type=bind,from=wheel,source=/dist,target=/dist \
    /opt/venv/bin/pip install --no-deps --no-index --no-cache-dir /dist/roadtest-*.whl
ENV PATH=/opt/venv/bin:$PATH \
    ROADTEST_HOME=/var/lib/roadtest \
    ROADTEST_BIND_HOST=127.0.0.1 \
    ROADTEST_DASHBOARD_PORT=8501 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false
USER 10001:10001
WORKDIR /var/lib/roadtest
EXPOSE 8501
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["sh", "-c", "healthcheck \"$ROADTEST_DASHBOARD_PORT\" /_stcore/health"]
CMD ["sh", "-c", "exec roadtest dashboard --host \"$ROADTEST_BIND_HOST\" --port \"$ROADTEST_DASHBOARD_PORT\""]

FROM runtime AS worker
COPY --from=worker-deps /opt/venv /opt/venv
RUN --mount=type=bind,from=wheel,source=/dist,target=/dist \
    /opt/venv/bin/pip install --no-deps --no-index --no-cache-dir /dist/roadtest-*.whl
ENV PATH=/opt/venv/bin:$PATH \
    ROADTEST_HOME=/var/lib/roadtest \
    ROADTEST_BIND_HOST=127.0.0.1 \
    ROADTEST_DAGSTER_PORT=3000
USER 10001:10001
WORKDIR /var/lib/roadtest
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["sh", "-c", "healthcheck \"$ROADTEST_DAGSTER_PORT\" /server_info"]
CMD ["sh", "-c", "exec roadtest orchestrate --host \"$ROADTEST_BIND_HOST\" --port \"$ROADTEST_DAGSTER_PORT\""]
