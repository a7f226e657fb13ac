# warmcgi in a container. The builder and the runtime are the same Debian
# release, so the binary meets the libpython it was linked with: Debian 13
# (trixie, Python 3.13) by default, Debian 12 (bookworm, Python 3.11) with
#
#   docker build -t warmcgi .
#   docker build --build-arg DEBIAN=bookworm -t warmcgi:bookworm .
#   docker run -p 8080:8080 -v /srv/cgi-bin:/cgi-bin:ro warmcgi
#
# GO_IMAGE and BASE_IMAGE name the two base images; .ci/docker-test, which
# builds and runs this image with a Docker engine it starts itself, points
# them at images it imports from a debootstrapped root (no registry there).

ARG DEBIAN=trixie
ARG GO_IMAGE=golang:1.26-${DEBIAN}
ARG BASE_IMAGE=debian:${DEBIAN}-slim

FROM ${GO_IMAGE} AS build
# The official golang images have gcc, pkg-config and the CA certificates
# already; they are named so that any Debian root with Go in /usr/local/go
# builds too.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-dev pkg-config gcc libc6-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# pyhost/pylink.sh links the release's static libpython into the binary, as
# its python3.X executable is linked, where it links on its own (bookworm's;
# not trixie's, which lacks its hash modules' HACL* code): make build does
# the same. The Debian package of the shared libpython the binary needs
# then (libpython3.13 on trixie) is written to /out/libpython for the
# runtime.
RUN eval "$(sh pyhost/pylink.sh static /tmp/pkgconfig)" \
 && CGO_ENABLED=1 go build -trimpath -buildvcs=false -o /out/warmcgi ./cmd/warmcgi \
 && { ldd /out/warmcgi | grep -o 'libpython3\.[0-9]*' | head -n 1 >/out/libpython || true; }

FROM ${BASE_IMAGE}
# python3 brings the standard library scripts import, and python3.X, the
# program name the binary gives Python; a shared libpython3.X only if the
# binary loads one; tini reaps the orphaned children that CGI scripts leave
# behind (a container's PID 1 must, or they stay zombies).
# The user's uid is fixed: Kubernetes' runAsNonRoot can only check a
# number (examples/kubernetes/deployment.yaml runs as 10001).
COPY --from=build /out/libpython /tmp/libpython
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 tini $(cat /tmp/libpython) \
 && rm -rf /var/lib/apt/lists/* /tmp/libpython \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin warmcgi
COPY --from=build /out/warmcgi /usr/local/bin/warmcgi
# Fails the build if the binary does not start Python here.
RUN warmcgi version
COPY examples/cgi-bin /cgi-bin
USER warmcgi
EXPOSE 8080
# /healthz of the status listener, which stays on the container's loopback.
HEALTHCHECK --interval=30s --timeout=3s CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9090/healthz', timeout=2)"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/warmcgi"]
CMD ["serve", "/cgi-bin", "--listen", "0.0.0.0:8080", "--status", "127.0.0.1:9090", "--access-log", "-"]
