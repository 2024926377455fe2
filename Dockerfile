# syntax=docker/dockerfile:1
# tollgate container image.
#   docker build -t tollgate .
#   docker run -p 8080:8080 -v tollgate-data:/data -e TOLLGATE_ADMIN_TOKEN=... tollgate
# Without TOLLGATE_SECRET_KEY, a SQLite deployment generates one into /data on first start:
# keep that volume (losing the key makes stored provider keys undecryptable).

# --- build -------------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src
# Only what the build reads: the workspace (root crate, aggregates, projections, bench: the
# benchmark is not built here, but cargo reads every member's manifest) and
# schemas/, whose SQL migrations sqlx::migrate! embeds at compile time
# (projections/src/db.rs: "../schemas/migrations/{postgres,sqlite}").
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY aggregates ./aggregates
COPY projections ./projections
COPY bench ./bench
COPY schemas ./schemas
# Cache mounts (BuildKit) keep downloaded crates and compiled dependencies between builds.
# target/ is a cache mount, so the binary is copied out of it in the same step.
# sharing=locked: compose builds both replicas from this context at the same time.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin tollgate \
 && cp target/release/tollgate /usr/local/bin/tollgate

# --- runtime -----------------------------------------------------------------
# Same Debian release as the builder, so the binary's glibc matches.
FROM debian:bookworm-slim
# ca-certificates: TLS to Postgres and to upstream LLM providers.
# curl: used only by HEALTHCHECK. The binary has no self-check subcommand and the slim
# image has no HTTP client; curl costs a few MB and keeps the check readable.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
# Fixed numeric uid/gid, so that orchestrators can check that it runs as non-root and
# bind-mounted host directories can be chowned to 10001.
RUN groupadd --system --gid 10001 tollgate \
 && useradd --system --uid 10001 --gid tollgate --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin tollgate \
 && mkdir /data && chown tollgate:tollgate /data
COPY --from=builder /usr/local/bin/tollgate /usr/local/bin/tollgate
# VOLUME comes after the chown: a new named volume takes over /data's owner.
VOLUME /data
WORKDIR /data
USER 10001:10001
ENV TOLLGATE_LISTEN=0.0.0.0:8080 \
    TOLLGATE_DATABASE_URL=sqlite:///data/tollgate.db
EXPOSE 8080
# /readyz: database reachable and read models caught up with the event log.
# The port is taken from TOLLGATE_LISTEN, so changing it doesn't break the check.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS -o /dev/null "http://127.0.0.1:${TOLLGATE_LISTEN##*:}/readyz" || exit 1
# Exec form: tollgate is PID 1 and gets SIGTERM directly, so it shuts down cleanly.
ENTRYPOINT ["tollgate"]
CMD ["serve"]
