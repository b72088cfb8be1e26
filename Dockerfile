# syntax=docker/dockerfile:1
# The loghost image. Build: docker build -t watchpost .
# Run:   docker run -d --name watchpost -p 8080:8080 -p 5514:5514/tcp -p 5514:5514/udp \
#          -v watchpost-data:/var/lib/watchpost watchpost
# With a configuration file (its storage.path, if any, inside the volume):
#          -v /etc/watchpost/watchpost.yaml:/etc/watchpost/watchpost.yaml:ro \
#          -e WATCHPOST_CONFIG=/etc/watchpost/watchpost.yaml
# Tokens: docker exec watchpost cat /var/lib/watchpost/admin.token
# The flags of `watchpost serve` win over these WATCHPOST_* variables, which
# win over the configuration file (e2e/docker_test.go runs this command line).

FROM golang:1.26-bookworm AS build
# gcc is what go-sqlite3's cgo needs; the golang image usually has it, but
# say so rather than rely on it.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Same build as the README's, plus reproducibility and size flags. Without
# CGO_ENABLED=1 go-sqlite3 builds a stub that fails at run time.
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o /out/watchpost ./cmd/watchpost

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 watchpost \
 && useradd --system --uid 10001 --gid watchpost --home-dir /var/lib/watchpost --shell /usr/sbin/nologin watchpost \
 && install -d -o watchpost -g watchpost -m 0700 /var/lib/watchpost
COPY --from=build /out/watchpost /usr/local/bin/watchpost
USER watchpost
WORKDIR /var/lib/watchpost
VOLUME /var/lib/watchpost
# Listen on every interface of the container: a port published with -p
# reaches nothing bound to 127.0.0.1 inside it.
ENV WATCHPOST_DATA=/var/lib/watchpost \
    WATCHPOST_LISTEN=0.0.0.0:8080 \
    WATCHPOST_SYSLOG_LISTEN=0.0.0.0:5514
EXPOSE 8080 5514/tcp 5514/udp
# A subcommand rather than curl, so the slim image needs nothing else; it
# asks the port of WATCHPOST_LISTEN.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/watchpost","healthcheck"]
ENTRYPOINT ["/usr/local/bin/watchpost"]
CMD ["serve"]
