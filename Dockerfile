# syntax=docker/dockerfile:1
# Build the service, then run it from a slim image as an unprivileged user.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev default-libmysqlclient-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY migrations migrations
COPY src src
RUN cargo build --release --locked --bin openconnector

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 libmariadb3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data openconnector \
    && mkdir -p /data && chown openconnector /data
COPY --from=build /src/target/release/openconnector /usr/local/bin/openconnector
USER openconnector
ENV OPENCONNECTOR_BIND=0.0.0.0:8080 OPENCONNECTOR_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/openconnector"]
CMD ["serve"]
