FROM alpine:3.20
COPY --frm=x a b
RUNN echo hi
USER 1000
CMD ["true"]
