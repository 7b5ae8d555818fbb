FROM debian:bookworm-slim
RUN wget -qO- https://example.com/key.asc | gpg --dearmor > /usr/share/keyrings/example.gpg
RUN set -o pipefail && cat /etc/os-release | grep VERSION
USER 1000
CMD ["/bin/true"]
