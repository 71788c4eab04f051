#!/usr/bin/env bash
# Runs every test: the Rust suite (unit and end-to-end against real servers and databases),
# then the web UI's unit tests and its browser tests against the real binary.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --locked
cargo build --locked --bin openconnector   # the binary the browser tests start
cd frontend
npm ci --no-audit --no-fund --loglevel=error
npm test
npm run test:e2e
