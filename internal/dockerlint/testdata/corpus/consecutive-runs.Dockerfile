FROM alpine:3.20
RUN mkdir -p /a
RUN mkdir -p /b
RUN mkdir -p /c
ENV X=1
RUN mkdir -p /d
RUN mkdir -p /e
RUN --mount=type=cache,target=/root/.cache echo one
RUN echo two
RUN echo three
USER 1000
CMD ["/bin/true"]
