FROM alpine:3.20
RUN apk add curl
RUN apk add --no-cache ca-certificates tzdata
RUN apk update && apk add jq && rm -rf /var/cache/apk/*
USER nobody
CMD ["sleep", "infinity"]
