FROM ubuntu:24.04
RUN apt-get update && apt-get install -y --no-install-recommends sudo && rm -rf /var/lib/apt/lists/*
RUN useradd -m dev && echo "dev ALL=(ALL) NOPASSWD:ALL" >> /etc/sudoers
USER dev
RUN sudo mkdir -p /data && sudo chmod -R a+rwx /data
RUN chmod 1777 /tmp && chmod 755 /home/dev
COPY --chmod=777 entry.sh /entry.sh
COPY --chmod=755 run.sh /run.sh
HEALTHCHECK CMD ["/run.sh", "check"]
ENTRYPOINT ["/entry.sh"]
