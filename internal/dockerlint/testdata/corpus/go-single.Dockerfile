FROM golang:1.23
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -o /bin/server ./cmd/server
USER 65532
HEALTHCHECK NONE
ENTRYPOINT ["/bin/server"]
