# syntax=docker/dockerfile:1
# oci-conformance in a container:
#   docker build -t oci-conformance .
#   docker run --rm --network host -v "$PWD/report:/report" --user "$(id -u):$(id -g)" \
#     oci-conformance --registry http://localhost:5000 --report-dir /report

# --- build ---------------------------------------------------------------------------------
# Same Debian release as the final image, so the binary finds the glibc it was linked against.
FROM rust:1-bookworm AS build
WORKDIR /src
# Everything cargo needs to read the manifest (its [[test]] targets must exist) and build.
COPY . .
# Cache mounts keep the registry and target dir between builds; the binary is copied out
# of the cached target dir because cache mounts are not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin oci-conformance \
 && install -D -m 0755 target/release/oci-conformance /out/oci-conformance \
 && /out/oci-conformance --version

# --- run -----------------------------------------------------------------------------------
# debian-slim rather than distroless: CI systems (GitLab) run job scripts with the image's shell.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 oci \
 && useradd --system --uid 10001 --gid oci --home-dir /work --create-home --shell /usr/sbin/nologin oci
COPY --from=build /out/oci-conformance /usr/local/bin/oci-conformance
USER 10001:10001
WORKDIR /work
# Reports go to ./oci-conformance-report unless --report-dir / OCI_REPORT_DIR say otherwise.
ENTRYPOINT ["oci-conformance"]
CMD ["--help"]
