# stateless-svc: carts in Redis, any replica serves any request.
# Build from the repository root:
#   docker build -f deploy/docker/stateless-svc.Dockerfile -t cartpair/stateless-svc:dev .

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
 && cmake --build /build --target stateless-svc -j "$(nproc)" \
 && strip /build/stateless-svc

# Runtime stage: only the shared libraries the binary links against.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmicrohttpd12 libjansson4 libnettle8 libhiredis0.14 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 cartpair \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin cartpair
COPY --from=build /build/stateless-svc /usr/local/bin/stateless-svc
# LISTEN_ADDR: the service binds to 127.0.0.1 by default; in a container it
# must listen on all interfaces for probes and Services to reach it.
ENV LISTEN_ADDR=0.0.0.0 \
    PORT=8081 \
    LOG_FORMAT=json
EXPOSE 8081
# A numeric user, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# Probes are Kubernetes httpGet probes on /healthz and /readyz: no curl here.
ENTRYPOINT ["/usr/local/bin/stateless-svc"]
