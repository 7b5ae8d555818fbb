FROM nginx:1.27-alpine
COPY nginx.conf /etc/nginx/nginx.conf
USER nginx
RUN chmod 777 /var/cache/nginx
USER root
EXPOSE 80 443
CMD ["nginx", "-g", "daemon off;"]
