# warmcgi in a container. The builder and the runtime are both Debian 12
# (bookworm), so the binary meets the same libpython3.11 it was linked with.
#
#   docker build -t warmcgi .
#   docker run -p 8080:8080 -v /srv/cgi-bin:/cgi-bin:ro warmcgi
#
# Not verified here: the machines this project is built on run no Docker
# engine (see README).

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
# tini reaps the orphaned children that CGI scripts leave behind.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 libpython3.11 tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin warmcgi
COPY --from=build /out/warmcgi /usr/local/bin/warmcgi
COPY examples/cgi-bin /cgi-bin
USER warmcgi
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD ["python3", "-c", "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/cgi-bin/hello.py', timeout=2)"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/warmcgi"]
CMD ["serve", "/cgi-bin", "--listen", "0.0.0.0:8080"]
