# A local stand-in for the official rust:VERSION-SUITE image, made by tests/container/engine.sh
# where no registry is reachable: the same layout (RUSTUP_HOME, CARGO_HOME, PATH), rustup's
# proxies in /usr/local/cargo/bin, the host's active toolchain, and of the build tools the
# official image (buildpack-deps) has, those a Rust build uses.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
ARG RUST_VERSION
LABEL org.orgwatch.stand-in="rust ${RUST_VERSION}: the host's toolchain on ${BASE}"
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    RUST_VERSION=${RUST_VERSION}
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       ca-certificates curl git gcc g++ libc6-dev make pkg-config libssl-dev file patch xz-utils procps netbase \
    && rm -rf /var/lib/apt/lists/*
# The host's CA bundle, the one host cargo trusts (this machine's TLS egress has its own CA).
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY rustup /usr/local/rustup
COPY cargo /usr/local/cargo
