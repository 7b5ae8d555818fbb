FROM alpine:3.20 AS base
COPY entry.sh .
COPY bin/ /usr/local/bin/

FROM base
WORKDIR /srv
COPY data/ data/
USER 1000
CMD ["/usr/local/bin/app"]
