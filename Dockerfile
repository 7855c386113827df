# The approval gateway as a container image: the production wheel (bot and cards, no sandbox)
# in a slim Python, run as a non-root user, with the data directory as a volume.
#   docker build -t approval-gateway .
#   docker run --read-only --tmpfs /tmp -v gateway-data:/var/lib/approval-gateway \
#     -e APPROVAL_GATEWAY_BACKEND_URL=... -p 8080:8080 approval-gateway
# Checked by hadolint (scripts/test) and tests/deploy/test_image.py; see README "Deploying".
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# Only what the wheel is built from: .dockerignore keeps the rest (sandbox, tests) out too.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cards ./cards
# The wheel holds bot and cards only (pyproject: [tool.hatch.build.targets.wheel]); it and its
# dependencies go into a virtualenv that the runtime stage copies whole. Its bytecode is compiled
# here, once: the runtime writes none (read-only root), and without it every command would
# compile pydantic, the gateway and the rest again at each start (4-5 times the instructions of
# `approval-gateway tokens list`). Unchecked hashes: the virtualenv never changes after this
# step, so no start needs to compare the sources' times or hashes (which a copy may not keep).
RUN pip wheel --wheel-dir /wheels . \
    && python -m venv /opt/approval-gateway \
    && /opt/approval-gateway/bin/pip install --no-compile /wheels/approval_gateway-*.whl \
    && /opt/approval-gateway/bin/python -m compileall -q -j 0 \
       --invalidation-mode unchecked-hash /opt/approval-gateway/lib

FROM ${PYTHON_IMAGE}
# No .pyc written at run time: the root filesystem may be read-only (docker run --read-only).
ENV PATH=/opt/approval-gateway/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APPROVAL_GATEWAY_DATA_DIR=/var/lib/approval-gateway \
    APPROVAL_GATEWAY_LISTEN=0.0.0.0:8080 \
    APPROVAL_GATEWAY_SANDBOX=false
# A fixed numeric uid/gid, so that Kubernetes' runAsNonRoot can check it and a volume can be
# chowned to it ahead of time.
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin gateway \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/approval-gateway
COPY --from=build /opt/approval-gateway /opt/approval-gateway
# SQLite's gateway.db and the generated master.key / backend_secret live here (unless
# PostgreSQL and the secrets come from settings): the only place the gateway writes.
VOLUME ["/var/lib/approval-gateway"]
WORKDIR /var/lib/approval-gateway
USER 10001:10001
EXPOSE 8080
# No curl in the image: Python's urllib asks /healthz on the port APPROVAL_GATEWAY_LISTEN names.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; port = os.environ.get('APPROVAL_GATEWAY_LISTEN', ':8080').rpartition(':')[2]; u.build_opener(u.ProxyHandler({})).open(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
ENTRYPOINT ["approval-gateway"]
CMD ["serve"]
