FROM alpine:3.20 AS fetch
RUN echo fetch > /src

FROM python:3.12-slim
COPY --from=fetch /src /src
RUN apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev && pip install --no-cache-dir psycopg2 && rm -rf /var/lib/apt/lists/*
USER 1000
HEALTHCHECK NONE
CMD ["python", "-m", "app"]
