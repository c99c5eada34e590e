# moxide in a container. Build: docker build -t moxide .  (or docker compose build)
#
# The container starts as root, like the systemd unit: moxide binds its ports (25, 465, 587, 143,
# 993: below 1024) and reads its configuration as root, then switches to the unprivileged
# `moxide` user made below (the `user` of moxide.toml) itself. Running the container as a
# non-root user instead would need CAP_NET_BIND_SERVICE and a configuration without privilege
# dropping.
#
# Volumes: /config holds moxide.toml, domains.toml, DKIM keys and the TLS certificate; /data the
# accounts, messages and queue. `moxide quickstart you@example.com --dir /` run in the container
# writes both; its data_dir "../data" (relative to /config) is /data.

# Builder: the release binaries. Dependencies are built in their own layer, from the manifest
# and lock file only, so a change of moxide's source does not rebuild them.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src/bin \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > src/bin/moxctl.rs \
    && touch src/lib.rs \
    && cargo build --release --locked --bins \
    && rm -rf src
COPY src ./src
# COPY keeps the files' times, which may be older than the placeholder build's: touch them so
# cargo rebuilds moxide itself.
RUN touch src/lib.rs src/main.rs src/bin/moxctl.rs \
    && cargo build --release --locked --bins

# Runtime: the binaries, CA certificates (TLS to other mail servers), a system user.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin moxide
COPY --from=build /src/target/release/moxide /src/target/release/moxctl /usr/local/bin/
VOLUME ["/config", "/data"]
# SMTP (MX), submissions, submission, IMAP, IMAPS.
EXPOSE 25 465 587 143 993
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["moxctl", "--config", "/config/moxide.toml", "status"]
ENTRYPOINT ["moxide"]
CMD ["serve", "--config", "/config/moxide.toml"]
