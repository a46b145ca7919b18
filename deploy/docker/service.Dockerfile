# One image recipe for all four WellPulse services; the build args pick the service.
# Build context: the repository root (for uv.lock and libs/common). Example:
#   docker build -f deploy/docker/service.Dockerfile \
#     --build-arg SERVICE_DIR=services/scoring --build-arg PACKAGE=wellpulse-scoring \
#     --build-arg COMMAND=wellpulse-scoring --build-arg PORT=8002 -t wellpulse-scoring .
# docker-compose.yml passes the same args for each service.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build

ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

# Bytecode is compiled here so the runtime image never writes .pyc files; the image's own
# interpreter is used, never a downloaded one.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/opt/venv

ARG SERVICE_DIR
ARG PACKAGE
RUN test -n "${SERVICE_DIR}" && test -n "${PACKAGE}" \
    || { echo "build args SERVICE_DIR and PACKAGE are required" >&2; exit 1; }

WORKDIR /src

# Third-party dependencies first, from the lock file alone, so a source edit does not
# reinstall them. --frozen installs exactly what uv.lock says and never re-resolves.
COPY pyproject.toml uv.lock ./
COPY libs/common/pyproject.toml libs/common/
COPY ${SERVICE_DIR}/pyproject.toml ${SERVICE_DIR}/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package "${PACKAGE}"

# Then the two workspace packages this service needs, installed as wheels (not editable)
# so the runtime stage needs only /opt/venv.
COPY libs/common/src libs/common/src
COPY ${SERVICE_DIR}/src ${SERVICE_DIR}/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "${PACKAGE}"


FROM ${PYTHON_IMAGE} AS runtime

ARG COMMAND
ARG PORT
RUN test -n "${COMMAND}" && test -n "${PORT}" \
    || { echo "build args COMMAND and PORT are required" >&2; exit 1; }

RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin wellpulse

COPY --from=build /opt/venv /opt/venv

# ARGs do not exist at run time, so the command and port are kept as ENV for the entrypoint
# and the health check. WELLPULSE_HTTP_PORT must match the service's <PREFIX>HTTP_PORT.
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WELLPULSE_COMMAND=${COMMAND} \
    WELLPULSE_HTTP_PORT=${PORT}

USER 10001:10001
EXPOSE ${PORT}

# slim has no curl; urlopen raises (exit 1) on a refused connection or a non-2xx answer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['WELLPULSE_HTTP_PORT'], timeout=4)"]

# `exec` makes the service PID 1 so it receives SIGTERM directly. Any arguments replace
# CMD: `docker run IMAGE migrate` runs `wellpulse-<svc> migrate`.
ENTRYPOINT ["/bin/sh", "-c", "exec \"${WELLPULSE_COMMAND}\" \"$@\"", "wellpulse"]
CMD ["serve"]
