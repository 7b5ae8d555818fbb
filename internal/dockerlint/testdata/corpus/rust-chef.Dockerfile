FROM rust:1.82-slim@sha256:5c3b2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c AS chef
WORKDIR /app

FROM chef AS builder
COPY . .
RUN cargo build --release

FROM chef
COPY --from=builder /app/target/release/app /usr/local/bin/app
USER 1000
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/app"]
