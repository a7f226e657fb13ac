# .ci/docker-test's stand-in for the nginx image examples/docker/docker-compose.yml
# names (no registry where it runs): Debian's nginx on the imported Debian
# base, laid out as the official image is (conf.d/default.conf, logs to the
# container's output, nginx in the foreground).
ARG BASE_IMAGE=debian:trixie-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
CMD ["nginx", "-g", "daemon off;"]
