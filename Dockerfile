# syntax=docker/dockerfile:1
# Build the web UI and the service, then run them from a slim image as an unprivileged user.
# Under AppAPI with HaRP, docker/start.sh starts the FRP client before the service.
FROM node:20-bookworm-slim AS ui
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci
COPY frontend ./
RUN npm run build

FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev default-libmysqlclient-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
# The bundled SQLite's build flags (multi-thread mode).
COPY .cargo .cargo
COPY migrations migrations
COPY src src
COPY --from=ui /src/frontend/dist frontend/dist
RUN cargo build --release --locked --bin openconnector

FROM debian:bookworm-slim
ARG FRP_VERSION=0.61.1
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 libmariadb3 ca-certificates curl \
    && curl -fsSL "https://github.com/fatedier/frp/releases/download/v${FRP_VERSION}/frp_${FRP_VERSION}_linux_amd64.tar.gz" \
       | tar -xz --strip-components=1 -C /usr/local/bin "frp_${FRP_VERSION}_linux_amd64/frpc" \
    && apt-get purge -y curl && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data openconnector \
    && mkdir -p /data && chown openconnector /data
COPY --from=build /src/target/release/openconnector /usr/local/bin/openconnector
COPY docker/start.sh /usr/local/bin/start.sh
USER openconnector
ENV OPENCONNECTOR_BIND=0.0.0.0:8080 OPENCONNECTOR_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/start.sh"]
CMD ["serve"]
