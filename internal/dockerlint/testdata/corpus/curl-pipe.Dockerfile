FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates && rm -rf /var/lib/apt/lists/*
RUN curl -fsSL https://deb.nodesource.com/setup_20.x | bash -
RUN curl -fsSLo /tmp/install.sh https://example.com/install.sh && sh /tmp/install.sh
USER 1000
CMD ["node"]
