FROM ubuntu:22.04
RUN apt-get update
RUN apt-get install curl git
RUN apt-get upgrade -y
RUN apt install -y vim
CMD ["bash"]
