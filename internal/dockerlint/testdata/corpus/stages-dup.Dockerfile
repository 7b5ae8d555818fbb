FROM alpine:3.20 AS base
RUN echo base > /base

FROM base AS build
COPY --from=build /base /copy
COPY --from=test /x /y
COPY --from=0 /base /b0
COPY --from=5 /base /b5

FROM alpine:3.20 AS test
RUN touch /x

FROM alpine:3.20 AS base
COPY --from=build /b0 /b0
USER 1000
CMD ["/bin/true"]
