# stateful-svc: carts in process memory, sticky routing.
# Build from the repository root:
#   docker build -f deploy/docker/stateful-svc.Dockerfile -t cartpair/stateful-svc:dev .

# Build stage: the full toolchain and -dev packages, on the same Debian
# release as the runtime image, so the shared libraries match.
FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libmicrohttpd-dev libjansson-dev libhiredis-dev nettle-dev uthash-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCARTPAIR_TESTS=OFF -DCARTPAIR_LOADTEST=OFF \
 && cmake --build /build --target stateful-svc -j "$(nproc)" \
 && strip /build/stateful-svc

# Runtime stage: only the shared libraries the binary links against.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmicrohttpd12 libjansson4 libnettle8 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 cartpair \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin cartpair
COPY --from=build /build/stateful-svc /usr/local/bin/stateful-svc
# LISTEN_ADDR: the service binds to 127.0.0.1 by default; in a container it
# must listen on all interfaces for probes and Services to reach it.
ENV LISTEN_ADDR=0.0.0.0 \
    PORT=8080 \
    LOG_FORMAT=json
EXPOSE 8080
# A numeric user, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# Probes are Kubernetes httpGet probes on /healthz and /readyz: no curl here.
ENTRYPOINT ["/usr/local/bin/stateful-svc"]
