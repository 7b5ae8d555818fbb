FROM alpine:3.20
COPY app /opt/app
RUN cd /opt/app && ./configure
WORKDIR /opt/app
RUN ./build.sh && echo "cd is just a word here"
COPY config.yml config/
USER 1000
CMD ["/opt/app/bin/app"]
