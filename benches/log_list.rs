//! Paged, filtered call-log lists over a million rows, through the real HTTP API, with the
//! same SQL run bare through the store beside it (the floor the API stands on).
//!
//! `cargo bench --bench log_list` runs SQLite; set `OPENCONNECTOR_TEST_POSTGRES_URL` (and/or
//! `OPENCONNECTOR_TEST_MYSQL_URL`) to add those servers. `LOG_ROWS` changes the row count.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark may stop on a broken set-up

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::web;
use openconnector::app::{AppState, build_server};
use openconnector::db::listing::ListQuery;
use openconnector::db::sql::Bind;
use openconnector::db::{CALL_LOG, Db, FieldType, store};
use openconnector::secret::Secret;

const SOURCES: i64 = 13;
const SAMPLES: usize = 200;

fn rows(from: i64, to: i64, total: i64) -> Vec<Vec<Bind>> {
    let start = chrono::Utc::now().naive_utc() - chrono::Duration::days(30);
    let step = 30 * 24 * 3600 * 1000 / total.max(1);
    (from..to)
        .map(|n| {
            let status = match n % 10 {
                0 => 500,
                1 => 404,
                _ => 200,
            };
            CALL_LOG
                .fields
                .iter()
                .map(|f| match f.name {
                    "uuid" => Bind::Text(Some(uuid::Uuid::new_v4().to_string())),
                    "statusCode" => Bind::Int(Some(status)),
                    "statusMessage" => Bind::Text(Some("OK".into())),
                    "sourceId" => Bind::Int(Some(n % SOURCES)),
                    "request" => Bind::Text(Some(format!(
                        r#"{{"method":"GET","url":"http://127.0.0.1/items?page={n}"}}"#
                    ))),
                    "response" => Bind::Text(Some(r#"{"statusCode":200,"size":512}"#.into())),
                    "created" => Bind::Time(Some(start + chrono::Duration::milliseconds(n * step))),
                    "expires" => Bind::Time(Some(start + chrono::Duration::days(60))),
                    "size" => Bind::Int(Some(4096)),
                    _ => match f.ty {
                        FieldType::Int => Bind::Int(None),
                        FieldType::Bool => Bind::Bool(None),
                        FieldType::Time => Bind::Time(None),
                        _ => Bind::Text(None),
                    },
                })
                .collect()
        })
        .collect()
}

fn fill(db: &Db, total: i64) {
    let started = Instant::now();
    let batch = 20_000;
    let mut from = 0;
    while from < total {
        let to = (from + batch).min(total);
        db.run_blocking(|conn| store::insert_rows(conn, &CALL_LOG, rows(from, to, total)))
            .expect("insert");
        from = to;
    }
    if db.backend() == openconnector::db::BackendKind::Postgres {
        db.run_blocking(|conn| conn.batch(&format!("VACUUM ANALYZE {}call_logs", conn.prefix())))
            .expect("analyze");
    }
    println!(
        "  filled {total} rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn p50(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let total: i64 = std::env::var("LOG_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut targets = vec![("sqlite", None)];
    for (name, variable) in [
        ("postgres", "OPENCONNECTOR_TEST_POSTGRES_URL"),
        ("mysql", "OPENCONNECTOR_TEST_MYSQL_URL"),
    ] {
        if let Ok(url) = std::env::var(variable) {
            targets.push((name, Some(url)));
        }
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // Page 1 and a page 400 deep (offset 8,000) of the errors of one source, and of one status.
    let queries = [
        (
            "source 7, errors, page 1",
            "sourceId=7&status_code=400,599&_page=1",
        ),
        (
            "source 7, errors, page 400",
            "sourceId=7&status_code=400,599&_page=400",
        ),
        (
            "status 404, last 7 days, page 1",
            "statusCode=404&date_from=LAST_WEEK&_page=1",
        ),
        (
            "status 404, last 7 days, page 300",
            "statusCode=404&date_from=LAST_WEEK&_page=300",
        ),
    ];
    let last_week = (chrono::Utc::now() - chrono::Duration::days(7))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    for (name, url) in targets {
        let dir =
            std::env::temp_dir().join(format!("openconnector-bench-{}", uuid::Uuid::new_v4()));
        let url = url.unwrap_or_else(|| dir.join("bench.sqlite").to_string_lossy().into_owned());
        let prefix = format!("b{}_", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let db = Db::connect(&url, &prefix, 8).expect("database");
        db.run_blocking(|conn| conn.run_pending_migrations())
            .expect("migrate");
        println!("{name}:");
        fill(&db, total);

        let listener = TcpListener::bind("127.0.0.1:0").expect("port");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        runtime.block_on(async {
            // The state starts background tasks, so it is made inside the runtime.
            let state = web::Data::new(
                AppState::new(db.clone(), Secret::new("bench-token-0123456789")).expect("state"),
            );
            tokio::spawn(build_server(listener, state).expect("server"));
            let client = reqwest::Client::new();
            println!(
                "  {:<36} {:>10} {:>10} {:>8} {:>8}",
                "query", "API p50", "SQL p50", "API/SQL", "total"
            );
            for (label, query) in queries {
                let query = query.replace("LAST_WEEK", &last_week);
                let pairs: Vec<(String, String)> =
                    serde_urlencoded::from_str(&query).expect("pairs");
                let list = ListQuery::parse(&CALL_LOG, &pairs, true).expect("valid");
                let mut bare = Vec::with_capacity(SAMPLES);
                let mut answered = 0;
                for _ in 0..SAMPLES {
                    let started = Instant::now();
                    let page = db
                        .run_blocking(|conn| store::list(conn, &CALL_LOG, &list))
                        .expect("list");
                    bare.push(started.elapsed());
                    answered = page.total;
                }
                let mut api = Vec::with_capacity(SAMPLES);
                for _ in 0..SAMPLES {
                    let started = Instant::now();
                    let response = client
                        .get(format!("{base}/api/sources/logs?{query}"))
                        .bearer_auth("bench-token-0123456789")
                        .send()
                        .await
                        .expect("answer");
                    assert!(response.status().is_success());
                    response.bytes().await.expect("body");
                    api.push(started.elapsed());
                }
                let (api, sql) = (p50(api), p50(bare));
                println!(
                    "  {label:<36} {api:>8.2}ms {sql:>8.2}ms {:>8.2} {answered:>8}",
                    api / sql
                );
            }
        });
        db.run_blocking(|conn| {
            conn.revert_last_migration()?;
            conn.batch(&format!("DROP TABLE {}migrations", conn.prefix()))
        })
        .expect("clean up");
        std::fs::remove_dir_all(&dir).ok();
    }
}
