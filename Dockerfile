# syntax=docker/dockerfile:1
# One image with the three satlab programs (target-api, loadgen, observer).
#
#   docker build -t satlab:local .
#
# Stage 1 keeps only the manifests and stubs every Rust source, so stage 2 can build all
# dependencies in a layer that stays cached until a manifest or Cargo.lock changes.

FROM rust:1.95-slim-bookworm AS skeleton
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
COPY . .
RUN find . -type f ! -name Cargo.toml ! -name Cargo.lock ! -name '*.rs' -delete \
 && find . -type f -name '*.rs' | while read -r f; do echo 'fn main() {}' > "$f"; done \
 && find . -type d -empty -delete

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies only (stubbed workspace crates): cached across source edits.
COPY --from=skeleton /src/ ./
RUN cargo build --release --workspace --locked
# The real sources. Stubs were built later than the sources' own timestamps, so touch
# them: cargo must rebuild every workspace crate, not trust the stub artifacts.
COPY . .
RUN find . -path ./target -prune -o -name '*.rs' -exec touch {} + \
 && cargo build --release --workspace --locked \
 && mkdir -p /out \
 && cp target/release/target-api target/release/loadgen target/release/observer /out/

FROM debian:bookworm-slim AS runtime
# Debian's point releases replace package versions: pinning them would break rebuilds.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 satlab \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/satlab satlab \
 && mkdir -p /runs /records /opt/satlab \
 && chown satlab:satlab /runs /records
COPY --from=build /out/ /usr/local/bin/
COPY scenarios/ /opt/satlab/scenarios/
COPY compose/loadgen-run.sh /usr/local/bin/satlab-loadgen-run
WORKDIR /opt/satlab
USER 10001:10001
# target-api, observer OTLP gRPC / HTTP, observer /metrics
EXPOSE 8080 4317 4318 9464
CMD ["observer", "--help"]
