# warmcgi in a container. The builder and the runtime are both Debian 12
# (bookworm), so the binary meets the same libpython3.11 it was linked with.
#
#   docker build -t warmcgi .
#   docker run -p 8080:8080 -v /srv/cgi-bin:/cgi-bin:ro warmcgi
#
# The machines this project is built on run no Docker engine: the runtime
# stage is checked by examples/verify-dockerfile.py, which follows its RUN
# and COPY lines by hand in a debootstrapped Debian root and runs the
# server as the USER below (see README, "Docker").

FROM golang:1.26-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -o /out/warmcgi ./cmd/warmcgi

FROM debian:bookworm-slim
# python3 brings libpython3.11 and the standard library scripts import;
# tini reaps the orphaned children that CGI scripts leave behind (a
# container's PID 1 must, or they stay zombies).
# The user's uid is fixed: Kubernetes' runAsNonRoot can only check a
# number (examples/kubernetes/deployment.yaml runs as 10001).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 libpython3.11 tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin warmcgi
COPY --from=build /out/warmcgi /usr/local/bin/warmcgi
COPY examples/cgi-bin /cgi-bin
USER warmcgi
EXPOSE 8080
# /healthz of the status listener, which stays on the container's loopback.
HEALTHCHECK --interval=30s --timeout=3s CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9090/healthz', timeout=2)"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/warmcgi"]
CMD ["serve", "/cgi-bin", "--listen", "0.0.0.0:8080", "--status", "127.0.0.1:9090", "--access-log", "-"]
