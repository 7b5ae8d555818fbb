FROM alpine:3.20
CMD ["echo", "one"]
ENTRYPOINT ["/bin/sh", "-c"]
HEALTHCHECK CMD ["true"]
HEALTHCHECK --interval=5s CMD ["true"]
CMD ["echo", "two"]
ENTRYPOINT /bin/sh
USER 1000
