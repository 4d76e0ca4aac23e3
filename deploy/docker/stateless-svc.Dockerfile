# stateless-svc: carts in Redis, any replica serves any request.
# Build from the repository root (deploy/docker/build does this for both
# images with buildah, and makes the base image locally when no registry is
# reachable):
#   buildah build --isolation chroot -f deploy/docker/stateless-svc.Dockerfile -t cartpair/stateless-svc:dev .
#   docker build -f deploy/docker/stateless-svc.Dockerfile -t cartpair/stateless-svc:dev .

# Build stage: Debian bookworm pinned to a point release; the toolchain and
# -dev packages. The same first steps in both Dockerfiles, so that a layer
# cache shares them.
FROM docker.io/library/debian:12.15 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config uthash-dev \
      libmicrohttpd-dev libjansson-dev libhiredis-dev nettle-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The runtime file system: the binary and what ldd says it loads, nothing
# else (deploy/docker/rootfs).
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCARTPAIR_TESTS=OFF -DCARTPAIR_LOADTEST=OFF \
 && cmake --build /build --target stateless-svc -j "$(nproc)" \
 && strip /build/stateless-svc \
 && deploy/docker/rootfs /build/stateless-svc /rootfs 10001

# Runtime stage: no distribution, no shell; the libraries came from the
# build stage, so they match the binary.
FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="stateless-svc" \
      org.opencontainers.image.description="cartpair stateless-svc: carts in Redis, any replica serves any request" \
      org.opencontainers.image.base.name="scratch" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /rootfs/ /
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
