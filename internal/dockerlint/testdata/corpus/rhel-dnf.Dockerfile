FROM registry.access.redhat.com/ubi9/ubi-minimal:9.4
RUN microdnf install -y shadow-utils && microdnf clean all
RUN dnf install -y python3
RUN yum update -y
RUN yum update -y openssl && yum clean all
USER 1001
CMD ["python3"]
