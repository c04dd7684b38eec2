#!/usr/bin/env bash
# The container engine of tests/container.rs, on a machine with no container registry.
#
#   engine.sh up               a Docker daemon to talk to: the one DOCKER_HOST or
#                              /var/run/docker.sock names when it answers, else a private dockerd
#                              (Debian's docker.io, installed when missing) started here. Prints
#                              DOCKER_HOST=… and STARTED=1 when this call started it.
#   engine.sh down             stops the private dockerd `up` started (by its pid file).
#   engine.sh bases DOCKERFILE the images DOCKERFILE's FROM lines name, made locally when the
#                              daemon lacks them, never pulled: debian:SUITE[-slim] from
#                              debootstrap, rust:VERSION-SUITE laid out as the official image
#                              (RUSTUP_HOME=/usr/local/rustup, CARGO_HOME=/usr/local/cargo) with
#                              this host's active toolchain and CA bundle copied in.
#
# State lives in $ORGWATCH_CONTAINER_CACHE (default: $CARGO_TARGET_DIR/container, else
# target/container): the private daemon's data root, so images and build layers outlast a run.
# Timings of each step go to stderr as "timing: STEP SECONDS". The private dockerd runs niced
# (ORGWATCH_DOCKERD_NICE, default 19), and so do the builds and containers it runs.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${ORGWATCH_CONTAINER_CACHE:-${CARGO_TARGET_DIR:-$ROOT/target}/container}"
STATE="$CACHE/dockerd.env"
PIDFILE="$CACHE/dockerd.pid"

log() { echo "engine: $*" >&2; }
die() { echo "engine: $*" >&2; exit 1; }
now() { date +%s.%N; }
timing() { awk -v s="$2" -v e="$(now)" -v n="$1" 'BEGIN { printf "timing: %s %.1f\n", n, e - s }' >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else die "needs root for: $*"; fi
}

apt_install() {
    local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@")
    as_root "${install[@]}" >/dev/null 2>&1 || { as_root apt-get update -qq >/dev/null && as_root "${install[@]}" >/dev/null; }
}

answers() { DOCKER_HOST="$1" timeout 20 docker info >/dev/null 2>&1; }

up() {
    if [ -n "${DOCKER_HOST:-}" ] && answers "$DOCKER_HOST"; then
        echo "DOCKER_HOST=$DOCKER_HOST"; echo "STARTED=0"; return
    fi
    if [ -S /var/run/docker.sock ] && answers unix:///var/run/docker.sock; then
        echo "DOCKER_HOST=unix:///var/run/docker.sock"; echo "STARTED=0"; return
    fi
    mkdir -p "$CACHE"
    # A private daemon of an earlier run that was not stopped: reuse it, and stop it after.
    if [ -f "$STATE" ] && [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        local host; host="$(sed -n 's/^DOCKER_HOST=//p' "$STATE")"
        if answers "$host"; then echo "DOCKER_HOST=$host"; echo "STARTED=1"; return; fi
    fi
    local start; start="$(now)"
    if ! command -v dockerd >/dev/null 2>&1; then
        log "installing Debian's docker.io …"
        apt_install docker.io
        timing install-docker.io "$start"
    fi
    command -v docker >/dev/null 2>&1 || die "no docker client after installing docker.io"
    # The sockets live under a short path (a unix socket's path has at most 107 bytes).
    local run; run="$(mktemp -d /tmp/orgwatch-dockerd.XXXXXX)"
    local host="unix://$run/docker.sock"
    start="$(now)"
    # The pid file is fixed: dockerd refuses to start while another holds this data root. Niced
    # (ORGWATCH_DOCKERD_NICE, default 19): its builds and containers are its children, so the
    # image's release build yields to whatever else the machine runs, and costs nothing when idle.
    as_root nice -n "${ORGWATCH_DOCKERD_NICE:-19}" dockerd --data-root "$CACHE/docker" --exec-root "$run/exec" -H "$host" --pidfile "$PIDFILE" \
        --log-level warn </dev/null >"$CACHE/dockerd.log" 2>&1 &
    local pid=$!
    printf 'DOCKER_HOST=%s\nRUN_DIR=%s\n' "$host" "$run" >"$STATE"
    for _ in $(seq 300); do
        if answers "$host"; then
            timing dockerd-start "$start"
            echo "DOCKER_HOST=$host"; echo "STARTED=1"; return
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    tail -20 "$CACHE/dockerd.log" >&2
    die "dockerd did not start (log: $CACHE/dockerd.log)"
}

down() {
    [ -f "$PIDFILE" ] || { log "no private dockerd to stop"; return; }
    local pid; pid="$(cat "$PIDFILE")"
    local run=""
    [ -f "$STATE" ] && run="$(sed -n 's/^RUN_DIR=//p' "$STATE")"
    if kill -0 "$pid" 2>/dev/null; then
        as_root kill -TERM "$pid"
        for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then log "dockerd $pid ignored SIGTERM for 30 s; killing it"; as_root kill -KILL "$pid"; fi
    fi
    rm -f "$STATE"
    case "$run" in /tmp/orgwatch-dockerd.*) as_root rm -rf "$run" ;; esac
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# The mirror apt uses for Debian itself (not -security), else deb.debian.org.
debian_mirror() {
    if [ -n "${ORGWATCH_DEBIAN_MIRROR:-}" ]; then echo "$ORGWATCH_DEBIAN_MIRROR"; return; fi
    local uri
    uri="$( { grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null || true; } \
        | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{ print $1 }' \
        | grep -E '^https?://.*/debian/?$' | head -1)"
    echo "${uri:-http://deb.debian.org/debian}"
}

# debian:SUITE-slim (or debian:SUITE): a minbase debootstrap of SUITE without apt's caches,
# documentation or locales, as the slim images leave them out.
debian_image() {
    local name="$1" suite="$2"
    have_image "$name" && return
    command -v debootstrap >/dev/null 2>&1 || { log "installing debootstrap …"; apt_install debootstrap; }
    local dir="$CACHE/rootfs-$suite" mirror; mirror="$(debian_mirror)"
    as_root rm -rf "$dir"
    log "debootstrap --variant=minbase $suite from $mirror …"
    local start; start="$(now)"
    as_root nice -n 19 debootstrap --variant=minbase "$suite" "$dir" "$mirror" >"$CACHE/debootstrap-$suite.log" 2>&1 \
        || { tail -20 "$CACHE/debootstrap-$suite.log" >&2; die "debootstrap $suite failed"; }
    timing "debootstrap-$suite" "$start"
    as_root sh -c "rm -rf '$dir'/var/cache/apt/archives/*.deb '$dir'/var/lib/apt/lists/* '$dir'/usr/share/doc/* '$dir'/usr/share/man/* '$dir'/usr/share/locale/*"
    start="$(now)"
    as_root tar -C "$dir" -c . | docker import \
        -c 'CMD ["bash"]' -c "LABEL org.orgwatch.stand-in=\"debootstrap --variant=minbase $suite $mirror\"" - "$name" >/dev/null
    timing "import-$name" "$start"
    as_root rm -rf "$dir"
}

# rust:VERSION-SUITE: the host's toolchain (it must be VERSION) on debian:SUITE-slim, laid out as
# the official image is, with the build tools the official image has that a Rust build uses, and
# the host's CA bundle (the one host cargo trusts) as the system's.
rust_image() {
    local name="$1" version="$2" suite="$3"
    have_image "$name" && return
    local host_version triple sysroot
    host_version="$(rustc -V | awk '{ print $2 }')"
    case "$host_version" in
        "$version" | "$version".*) ;;
        *) die "$name needs Rust $version, this host's toolchain is $host_version: install it with rustup" ;;
    esac
    triple="$(rustc -vV | sed -n 's/^host: //p')"
    sysroot="$(rustc --print sysroot)"
    debian_image "debian:$suite-slim" "$suite"
    local ctx="$CACHE/rust-context"
    rm -rf "$ctx"
    mkdir -p "$ctx/rustup/toolchains/$host_version-$triple" "$ctx/cargo/bin"
    # The active toolchain only, without its documentation.
    tar -C "$sysroot" --exclude=./share/doc -c . | tar -C "$ctx/rustup/toolchains/$host_version-$triple" -x
    printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\n\n[overrides]\n' "$host_version-$triple" >"$ctx/rustup/settings.toml"
    cp "$(command -v rustup)" "$ctx/cargo/bin/rustup"
    for proxy in cargo cargo-clippy cargo-fmt clippy-driver rust-gdb rust-gdbgui rust-lldb rustc rustdoc rustfmt; do
        ln -s rustup "$ctx/cargo/bin/$proxy"
    done
    cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
    local start; start="$(now)"
    log "building $name from debian:$suite-slim and the host's Rust $host_version …"
    DOCKER_BUILDKIT=0 docker build -q -f "$HERE/rust.Dockerfile" -t "$name" \
        --build-arg "BASE=debian:$suite-slim" --build-arg "RUST_VERSION=$host_version" "$ctx" >/dev/null \
        || die "building the $name stand-in failed"
    timing "stand-in-$name" "$start"
    rm -rf "$ctx"
}

bases() {
    local dockerfile="$1"
    local stages=() image
    # FROM [--platform=…] IMAGE [AS NAME]; a FROM naming an earlier stage is no image.
    while read -r image stage; do
        local known=0
        for s in "${stages[@]}"; do [ "$s" = "$image" ] && known=1; done
        [ -n "$stage" ] && stages+=("$stage")
        [ "$known" = 1 ] && continue
        if have_image "$image"; then continue; fi
        case "$image" in
            debian:*) local tag="${image#debian:}"; debian_image "$image" "${tag%-slim}" ;;
            rust:*-*) local tag="${image#rust:}"; rust_image "$image" "${tag%%-*}" "${tag#*-}" ;;
            *) die "no local stand-in for $image (FROM in $dockerfile), and no registry is used" ;;
        esac
    done < <(sed -nE 's/^[[:space:]]*FROM[[:space:]]+(--[^[:space:]]+[[:space:]]+)*([^[:space:]]+)([[:space:]]+[Aa][Ss][[:space:]]+([^[:space:]]+))?.*/\2 \4/p' "$dockerfile")
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    bases) [ $# = 2 ] || die "usage: engine.sh bases DOCKERFILE"; bases "$2" ;;
    *) die "usage: engine.sh up | down | bases DOCKERFILE" ;;
esac
