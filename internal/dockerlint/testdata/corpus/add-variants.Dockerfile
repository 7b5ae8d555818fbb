FROM alpine:3.20
ADD app.conf /etc/app/app.conf
ADD rootfs.tar.gz /
ADD https://example.com/tool.tar.gz /tmp/tool.tar.gz
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/other.bin /usr/local/bin/other
ADD https://github.com/example/repo.git#v1.0.0 /src
USER 1000
CMD ["/bin/sh"]
