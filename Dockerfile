# radiald container image: a build stage that runs the project's own scripts
# (scripts/install-deps.sh, scripts/build.sh: what CI runs), then a slim
# runtime stage with the binaries, the runtime libraries, the default model,
# Debian's nginx (the edge proxy, deploy/proxy/nginx.conf) and a non-root
# user. The same image runs radiald (the entrypoint) or the proxy
# (--entrypoint nginx): deploy/compose and deploy/k8s run both, and expose
# only the proxy's ports (docs/security.md, "HTTP/2 header floods and the
# edge proxy").
#
#   docker build -t radiald:cpu .                                   # CPU only
#   docker build -t radiald:cuda --build-arg CUDA=ON .              # CUDA backend
#   cd deploy/compose && docker compose --profile cpu up -d         # behind nginx
#   docker run --rm -p 127.0.0.1:50052:50052 radiald:cpu            # radiald alone, on
#                                                                   # the host's loopback
#
# Build args:
#   BUILD_BASE, RUNTIME_BASE  base images (Debian 12; scripts/container-test.sh
#                             passes a locally made one)
#   CUDA                      OFF (default) or ON: the CUDA compiler, runtime and
#                             cuBLAS from NVIDIA's Debian 12 repository
#   CUDA_VERSION              NVIDIA package suffix, e.g. 13-0 (cuda-nvcc-13-0; the CUDA backend links cuBLAS 13)
#   CUDA_ARCHITECTURES        CMAKE_CUDA_ARCHITECTURES (90: H100 / H200)
#   JOBS                      parallel compile jobs (default: all cores)
# See docs/deploy.md.

ARG BUILD_BASE=debian:bookworm
ARG RUNTIME_BASE=debian:bookworm-slim

# ---------------------------------------------------------------- build ----
FROM ${BUILD_BASE} AS build
ARG CUDA=OFF
ARG CUDA_VERSION=13-0
ARG CUDA_ARCHITECTURES=90
ARG JOBS=
WORKDIR /src
# Dependencies first (a layer of their own, reused while only sources change).
COPY scripts/install-deps.sh scripts/
COPY deploy/docker/cuda.sh deploy/docker/
RUN if [ "$CUDA" = ON ]; then sh deploy/docker/cuda.sh build "$CUDA_VERSION"; fi \
 && bash scripts/install-deps.sh --image
COPY . .
# Only radiald and the radial tool, Release, no tests or benchmarks. The
# runtime packages are those ldd names, plus cuBLAS with CUDA=ON (it is loaded
# at run time, dlopen: kernels/cublas_loader.cpp).
RUN set -eu; \
    cuda_args="-DRADIAL_CUDA=OFF"; \
    if [ "$CUDA" = ON ]; then \
      cuda_args="-DRADIAL_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHITECTURES \
        -DCMAKE_CUDA_COMPILER=/usr/local/cuda-$(echo "$CUDA_VERSION" | tr - .)/bin/nvcc"; \
    fi; \
    JOBS="$JOBS" RADIAL_BUILD_TARGETS="radiald radial" \
      bash scripts/build.sh -DRADIAL_BUILD_TESTS=OFF $cuda_args; \
    mkdir -p /out/bin /out/pkg; \
    cp build/server/radiald build/tools/radial /out/bin/; \
    strip /out/bin/radiald /out/bin/radial; \
    sh deploy/docker/runtime-packages.sh /out/bin/radiald /out/bin/radial >/out/pkg/runtime-packages.txt; \
    if [ "$CUDA" = ON ]; then echo "libcublas-$CUDA_VERSION" >>/out/pkg/runtime-packages.txt; fi; \
    echo nginx >>/out/pkg/runtime-packages.txt; \
    if [ -f /opt/cuda-keyring.deb ]; then cp /opt/cuda-keyring.deb /out/pkg/; fi; \
    echo "runtime packages:" $(cat /out/pkg/runtime-packages.txt)

# -------------------------------------------------------------- runtime ----
FROM ${RUNTIME_BASE} AS runtime
# Exactly the packages that hold the binaries' shared libraries (gRPC,
# protobuf, prometheus-cpp, spdlog, sentencepiece, cairo; with CUDA=ON also
# cuBLAS from NVIDIA's repository, whose key comes from the build stage), and
# nginx for the edge proxy (the one tests/e2e/edge_proxy.sh tests). The
# CUDA runtime is linked statically; the NVIDIA driver (libcuda.so.1) is
# mounted by the container runtime. Checked against a radiald serving on an
# H200 (docs/gpu.md): beyond the C/C++ runtime and the CPU image's libraries it
# mapped libcublas.so.13, libcublasLt.so.13 (both in libcublas-13-0) and libcuda.
COPY --from=build /out/pkg/ /tmp/radial-pkg/
RUN set -eu; \
    export DEBIAN_FRONTEND=noninteractive; \
    if [ -f /tmp/radial-pkg/cuda-keyring.deb ]; then dpkg -i /tmp/radial-pkg/cuda-keyring.deb; fi; \
    apt-get update -q; \
    apt-get install -y -q --no-install-recommends $(cat /tmp/radial-pkg/runtime-packages.txt); \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/* /tmp/radial-pkg; \
    useradd --system --uid 10001 --user-group --home-dir /opt/radial --no-create-home \
      --shell /usr/sbin/nologin radial
COPY --from=build /out/bin/radiald /out/bin/radial /usr/local/bin/
COPY models/stories260K/ /opt/radial/models/stories260K/
# The default configs; mount your own over them (-v ...:/etc/radiald/radiald.json:ro).
COPY deploy/config/radiald.json /etc/radiald/radiald.json
COPY deploy/proxy/nginx.conf /etc/radiald-proxy/nginx.conf
WORKDIR /opt/radial
USER 10001:10001
# The proxy's gRPC (radial.v1.Radial, grpc.health.v1.Health, reflection) and
# OpenAI HTTP API ports, and radiald's Prometheus /metrics. radiald's own gRPC
# and HTTP ports (50052 and 8081 in the default config) are for the proxy.
EXPOSE 50051 8080 9090
# GPUs for the NVIDIA container runtime (ignored without one).
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    RADIAL_HEALTH_ADDR=127.0.0.1:50052
# Readiness through the gRPC health service (radial.v1.Radial is SERVING once
# the model is loaded, NOT_SERVING from SIGTERM on). Set RADIAL_HEALTH_ADDR
# when the config listens elsewhere (with TLS on: the health_listen address).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD radial health --server "$RADIAL_HEALTH_ADDR" --timeout 4 >/dev/null || exit 1
# radiald drains on SIGTERM for drain_timeout_s (default 30 s): give
# `docker stop` / Kubernetes at least that long.
STOPSIGNAL SIGTERM
ENTRYPOINT ["radiald"]
CMD ["--config", "/etc/radiald/radiald.json"]
