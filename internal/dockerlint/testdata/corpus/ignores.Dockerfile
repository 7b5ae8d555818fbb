# hugai-ignore=HG001,HG003
FROM nginx
# a comment that is not an ignore
RUN apt-get update
# hugai-ignore=HG024
RUN apt-get update
# hugai-ignore = hg030
CMD nginx -g "daemon off;"
