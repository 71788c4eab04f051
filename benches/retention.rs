//! Cleaning a backlog of expired call logs while another writer keeps logging: rows deleted
//! per second, and the longest time that writer waited for one insert, beside the same
//! writer's longest wait with nothing else running (measured first, in the same run).
//!
//! `cargo bench --bench retention` runs SQLite; set `OPENCONNECTOR_TEST_POSTGRES_URL` (and/or
//! `OPENCONNECTOR_TEST_MYSQL_URL`) to add those servers. `CLEAN_ROWS` changes the backlog
//! (1,000,000 by default).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark may stop on a broken set-up

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use openconnector::db::sql::Bind;
use openconnector::db::{CALL_LOG, Db, FieldType, store};
use openconnector::retention;

fn rows(from: i64, to: i64, expires: chrono::NaiveDateTime) -> Vec<Vec<Bind>> {
    let created = expires - chrono::Duration::days(30);
    (from..to)
        .map(|n| {
            CALL_LOG
                .fields
                .iter()
                .map(|f| match f.name {
                    "uuid" => Bind::Text(Some(uuid::Uuid::new_v4().to_string())),
                    "statusCode" => Bind::Int(Some(200)),
                    "sourceId" => Bind::Int(Some(n % 13)),
                    "request" => Bind::Text(Some(format!(
                        r#"{{"method":"GET","url":"http://127.0.0.1/items?page={n}"}}"#
                    ))),
                    "response" => Bind::Text(Some(r#"{"statusCode":200,"size":512}"#.into())),
                    "created" => Bind::Time(Some(created)),
                    "expires" => Bind::Time(Some(expires)),
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

/// Inserts one fresh log every 5 ms until stopped; answers the longest insert.
async fn writer(db: Db, stop: Arc<AtomicBool>) -> (Duration, usize) {
    let alive = chrono::Utc::now().naive_utc() + chrono::Duration::days(30);
    let mut longest = Duration::ZERO;
    let mut count = 0;
    while !stop.load(Ordering::Relaxed) {
        let row = rows(0, 1, alive);
        let started = Instant::now();
        db.run(move |conn| store::insert_rows(conn, &CALL_LOG, row))
            .await
            .expect("insert");
        longest = longest.max(started.elapsed());
        count += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (longest, count)
}

async fn measure(name: &str, url: &str, total: i64) {
    let prefix = format!("bench{}_", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let db = Db::connect(url, &prefix, 4).expect("database");
    db.run_blocking(|conn| conn.run_pending_migrations())
        .expect("migrations");
    let expired = chrono::Utc::now().naive_utc() - chrono::Duration::days(1);
    let filled = Instant::now();
    let mut from = 0;
    while from < total {
        let to = (from + 20_000).min(total);
        let batch = rows(from, to, expired);
        db.run(move |conn| store::insert_rows(conn, &CALL_LOG, batch))
            .await
            .expect("fill");
        from = to;
    }
    println!(
        "{name}: {total} expired call logs written in {:.1} s",
        filled.elapsed().as_secs_f64()
    );

    // The writer alone: its own longest wait, the peer of the figure below.
    let stop = Arc::new(AtomicBool::new(false));
    let alone = tokio::spawn(writer(db.clone(), Arc::clone(&stop)));
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let (alone_longest, _) = alone.await.expect("writer");

    let stop = Arc::new(AtomicBool::new(false));
    let beside = tokio::spawn(writer(db.clone(), Arc::clone(&stop)));
    let started = Instant::now();
    let pace = retention::Pace::for_backend(db.backend());
    let cleaned = retention::clean(&db, chrono::Utc::now().naive_utc(), pace)
        .await
        .expect("clean");
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (beside_longest, inserts) = beside.await.expect("writer");
    assert_eq!(cleaned.deleted, total as u64, "every expired row went");
    println!(
        "{name}: cleaned {} rows in {:.1} s = {:.0} rows/s in {} batches of {}",
        cleaned.deleted,
        took.as_secs_f64(),
        cleaned.deleted as f64 / took.as_secs_f64(),
        cleaned.batches,
        pace.batch
    );
    println!(
        "{name}: longest insert wait while cleaning {:.1} ms over {inserts} inserts; alone {:.1} ms; ratio {:.1} (goal: under 100 ms)",
        beside_longest.as_secs_f64() * 1000.0,
        alone_longest.as_secs_f64() * 1000.0,
        beside_longest.as_secs_f64() / alone_longest.as_secs_f64().max(1e-6)
    );
    while db
        .run_blocking(|conn| conn.revert_last_migration())
        .expect("revert")
        .is_some()
    {}
    db.run_blocking(|conn| conn.batch(&format!("DROP TABLE {}migrations", conn.prefix())))
        .expect("drop");
}

fn main() {
    let total: i64 = std::env::var("CLEAN_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!("openconnector-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sqlite = dir.join("clean.sqlite").to_string_lossy().into_owned();
    runtime.block_on(async {
        measure("sqlite", &sqlite, total).await;
        for (name, variable) in [
            ("postgres", "OPENCONNECTOR_TEST_POSTGRES_URL"),
            ("mysql", "OPENCONNECTOR_TEST_MYSQL_URL"),
        ] {
            match std::env::var(variable) {
                Ok(url) if !url.is_empty() => measure(name, &url, total).await,
                _ => println!("{name}: skipped ({variable} is not set)"),
            }
        }
    });
    std::fs::remove_dir_all(dir).ok();
}
