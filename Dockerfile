# ringproof in a container: a multi-stage build, a slim non-root runtime.
# UNTESTED on this project's machines (they have no container runtime); .ci/run tests the
# Debian package instead. docs/deploy.md.
#
#   docker build -t ringproof .
#   docker run -p 8080:8080 -v ringproof-data:/var/lib/ringproof ringproof

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p ringproof

FROM debian:bookworm-slim
# espeak-ng: the sandbox renders calls to audio with it (optional); ca-certificates: the
# providers' HTTPS APIs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates espeak-ng \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system ringproof \
 && useradd --system --gid ringproof --home-dir /var/lib/ringproof --shell /usr/sbin/nologin ringproof \
 && install -d -o ringproof -g ringproof -m 0700 /var/lib/ringproof
COPY --from=build /src/target/release/ringproof /usr/local/bin/ringproof
USER ringproof:ringproof
ENV RINGPROOF_DATA_DIR=/var/lib/ringproof \
    RINGPROOF_LISTEN=0.0.0.0:8080
VOLUME ["/var/lib/ringproof"]
EXPOSE 8080
# The port answers (bash opens a TCP connection; the image has no HTTP client).
HEALTHCHECK --interval=10s --timeout=2s CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"]
ENTRYPOINT ["/usr/local/bin/ringproof"]
CMD ["serve"]
