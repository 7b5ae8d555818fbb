# syntax=docker/dockerfile:1.7
FROM python:3.12-slim AS build
RUN pip install build
RUN apt-get update && apt-get install -y gcc

FROM python:3.12-slim
RUN --mount=type=cache,target=/var/cache/apt --mount=type=cache,target=/var/lib/apt \
    apt-get update && apt-get install -y --no-install-recommends libpq5
RUN --mount=type=cache,target=/root/.cache/pip pip install psycopg
RUN --mount=type=secret,id=token,env=TOKEN pip install --no-cache-dir private-pkg
USER 1000
HEALTHCHECK NONE
CMD ["python", "-m", "app"]
