//! End-to-end tests: the real server on a free port, against SQLite always and against
//! PostgreSQL and MariaDB when their URLs are set (see `common::backends`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may stop the test

mod api_crud;
mod api_errors;
mod api_logs;
mod appapi;
mod call;
mod cli;
mod common;
mod jobs;
mod mapping;
mod migrations;
mod sync;
mod transfer;
