FROM --platform=$BUILDPLATFORM golang:1.23-alpine@sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9 AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY . .
RUN go mod download
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app ./cmd/app

FROM gcr.io/distroless/static-debian12:nonroot@sha256:aa1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9
COPY --from=build /out/app /app
USER nonroot:nonroot
HEALTHCHECK NONE
ENTRYPOINT ["/app"]
