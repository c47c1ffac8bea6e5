# syncd in a container.
#   docker build -t syncd .
#   docker run -d --name syncd \
#     -v /srv/syncd/etc:/etc/syncd:ro -v syncd-state:/var/lib/syncd \
#     -v /srv/syncd/hub-token:/run/secrets/hub-token:ro -p 127.0.0.1:8787:8787 syncd
# The configuration is mounted at /etc/syncd/syncd.toml; the hub token comes
# from /run/secrets/hub-token (a Docker or Kubernetes secret), or from
# SYNCD_HUB_TOKEN, or from token_file in the configuration. Nothing secret is
# baked into the image. SQLite instances belong under /var/lib/syncd (a volume).

# Dependencies are installed at the versions in constraints.txt (the same pins CI tests).
# The base image, overridable: --build-arg PYTHON_IMAGE=registry.example/python:3.11-slim
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- stage 1: install syncd and its pinned dependencies into a virtualenv at /opt/syncd -----------
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY syncd ./syncd
RUN python -m venv /opt/syncd \
    && /opt/syncd/bin/python -m pip install --no-cache-dir --constraint constraints.txt .

# --- stage 2: the runtime: the virtualenv only (no wheels, no sources, no compiler), non-root -----
FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/syncd/bin:$PATH \
    SYNCD_CONFIG=/etc/syncd/syncd.toml \
    SYNCD_HEALTH_LISTEN=0.0.0.0:8787 \
    CREDENTIALS_DIRECTORY=/run/secrets
# /run/syncd: where the daemon records its health address for `syncd check`
RUN groupadd --system --gid 10001 syncd \
    && useradd --system --uid 10001 --gid syncd --home-dir /var/lib/syncd --no-create-home \
       --shell /usr/sbin/nologin syncd \
    && mkdir -p /etc/syncd /var/lib/syncd /run/syncd \
    && chown syncd:syncd /var/lib/syncd /run/syncd \
    && chmod 0700 /var/lib/syncd
# the same base image in both stages: the virtualenv's interpreter links resolve here too
COPY --from=build /opt/syncd /opt/syncd
VOLUME ["/var/lib/syncd"]
WORKDIR /var/lib/syncd
EXPOSE 8787
USER 10001:10001
# Docker reserves exit status 2; `syncd check` uses it for "cannot ask", which is unhealthy too
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["sh", "-c", "syncd check || exit 1"]
# exec form: syncd is PID 1 and receives SIGTERM itself (graceful stop within the grace)
ENTRYPOINT ["syncd"]
CMD ["serve"]
