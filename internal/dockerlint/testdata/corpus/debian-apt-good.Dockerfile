FROM debian:bookworm-slim@sha256:1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd -r app && useradd -r -g app app
COPY --chown=app:app bin/ /opt/app/
USER app
HEALTHCHECK CMD ["/opt/app/healthcheck"]
ENTRYPOINT ["/opt/app/run"]
