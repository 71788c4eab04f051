//! A first sync and an unchanged re-sync of many objects, from a local paged source into the
//! OpenRegister stand-in, beside a bare loop doing the same I/O (fetch each page, POST each
//! object; no mapping, no contracts) in the same run.
//!
//! `cargo bench --bench sync` (`OBJECTS`, default 100,000, in pages of 100).
//!
//! The source and the stand-in run in a child process (this program, started again), so the
//! peak memory printed is the synchronization's own: the source's objects are made per request
//! and the stand-in keeps what it is sent, neither of which should count.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark may stop on a broken set-up

/// What the stand-in's own tests borrow from the test crate (cargo builds benches with them).
#[allow(dead_code)]
mod common {
    pub async fn read(response: reqwest::Response) -> (u16, serde_json::Value) {
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }
}

#[path = "../tests/it/common/openregister.rs"]
#[allow(dead_code)] // the benchmark uses part of the test stand-in
mod openregister;

use std::net::TcpListener;
use std::time::Instant;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use futures_util::StreamExt;
use openconnector::app::AppState;
use openconnector::db::store;
use openconnector::db::{Db, MAPPING, SOURCE, SYNCHRONIZATION};
use openconnector::secret::Secret;
use openconnector::sync::RunOptions;
use openconnector::sync::writer::{RegisterAuth, RegisterSettings};
use serde_json::{Value, json};

const PAGE: usize = 100;
/// Rounds of the bare loop and the first sync (`ROUNDS`; 3, or 1 past 200,000 objects, as the
/// stand-in keeps every object of every round).
fn rounds(total: usize) -> usize {
    std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if total > 200_000 { 1 } else { 3 })
}

fn object(n: usize) -> Value {
    json!({
        "id": format!("ZAAK-{n:07}"),
        "omschrijving": format!("Aanvraag omgevingsvergunning {n}"),
        "status": {"code": if n % 3 == 0 { "afgerond" } else { "lopend" }, "datum": "2026-11-01"},
        "behandelaar": {"naam": "Team Vergunningen", "email": "vergunningen@example.org"},
        "kenmerken": ["bouw", "milieu"],
        "bedrag": n % 1000,
    })
}

fn peak_memory_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|line| {
            line.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn objects_wanted() -> usize {
    std::env::var("OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// The child's part: the paged source and the OpenRegister stand-in, until stdin closes.
async fn serve_counterparts(total: usize) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("port");
    let source_base = format!("http://{}", listener.local_addr().expect("address"));
    let server = HttpServer::new(move || {
        App::new().default_service(web::to(move |request: HttpRequest| async move {
            let page: usize = request
                .query_string()
                .split('&')
                .find_map(|p| p.strip_prefix("page="))
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            let start = (page - 1) * PAGE;
            let results: Vec<Value> = (start..total.min(start + PAGE)).map(object).collect();
            HttpResponse::Ok()
                .json(json!({"results": results, "page": page, "pages": total.div_ceil(PAGE)}))
        }))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);

    let register = openregister::OpenRegister::start().await;
    register.set_audit(false);
    register.add_register(1, "zaken");
    register.add_schema(
        2,
        "zaak",
        json!({"properties": {"title": {"type": "string"}}}),
        false,
    );
    for round in 0..rounds(total) {
        register.add_register(10 + round as u64, &format!("bare{round}"));
    }
    register.add_schema(4, "zaak", json!({"properties": {}}), false);
    println!("{source_base} {}", register.base);
    let _ = tokio::task::spawn_blocking(|| {
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new())
    })
    .await;
}

fn main() {
    let total = objects_wanted();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::var_os("SYNC_BENCH_COUNTERPARTS").is_some() {
        runtime.block_on(serve_counterparts(total));
        return;
    }
    let mut counterparts =
        std::process::Command::new(std::env::current_exe().expect("this program"))
            .env("SYNC_BENCH_COUNTERPARTS", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the counterparts start");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(counterparts.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("the counterparts say where they are");
    let mut bases = line.split_whitespace().map(str::to_owned);
    let (source_base, register_base) = (
        bases.next().expect("source"),
        bases.next().expect("register"),
    );
    runtime.block_on(async move {

        println!("{total} objects in pages of {PAGE}, from a local source into the OpenRegister stand-in");
        let dir = std::env::temp_dir().join(format!("openconnector-sync-bench-{}", uuid::Uuid::new_v4()));
        let db = Db::connect(&dir.join("bench.sqlite").to_string_lossy(), "oc_openconnector_", 8).expect("db");
        db.run_blocking(|conn| conn.run_pending_migrations()).expect("migrate");
        let settings = RegisterSettings {
            base: register_base.clone(),
            auth: RegisterAuth::Basic { user: openregister::USER.into(), password: Secret::new(openregister::APP_PASSWORD) },
        };
        let state = AppState::new(db.clone(), Secret::new("bench")).expect("state").with_register(Some(settings));
        let create = |entity, value: Value| {
            let input = value.as_object().cloned().unwrap_or_default();
            db.run_blocking(|conn| store::create(conn, entity, &input)).expect("create")
        };
        let source = create(&SOURCE, json!({"name": "Zaken", "location": source_base}));
        let mapping = create(&MAPPING, json!({"name": "Zaak", "mapping": {
            "title": "{{ omschrijving }}", "identifier": "id", "state": "status.code", "date": "status.datum",
            "handler": "{{ behandelaar.naam }} <{{ behandelaar.email }}>", "amount": "bedrag", "tags": "kenmerken"
        }, "cast": {"amount": "int"}}));

        // Rounds alternate the bare loop (the same pages read and objects written, nothing
        // else, each round into its own schema) and a first sync (a new synchronization each
        // round); the machine's noise moves both, so the best round of each is compared.
        let rounds = rounds(total);
        let client = reqwest::Client::new();
        let (mut bare, mut first_rate, mut best) = (0.0_f64, 0.0_f64, None);
        for round in 0..rounds {
            let started = Instant::now();
            for page in 1..=total.div_ceil(PAGE) {
                let body: Value = client.get(format!("{source_base}/objects?page={page}")).send().await.expect("page").json().await.expect("JSON");
                let items = body["results"].as_array().cloned().unwrap_or_default();
                futures_util::stream::iter(items)
                    .map(|item| {
                        let client = client.clone();
                        let url = format!("{register_base}/objects/bare{round}/zaak");
                        async move {
                            let response = client.post(url).basic_auth(openregister::USER, Some(openregister::APP_PASSWORD)).json(&item).send().await.expect("post");
                            assert!(response.status().is_success());
                        }
                    })
                    .buffer_unordered(8)
                    .collect::<Vec<()>>()
                    .await;
            }
            bare = bare.max(total as f64 / started.elapsed().as_secs_f64());

            let sync = create(&SYNCHRONIZATION, json!({
                "name": format!("Zaken {round}"), "sourceId": source["id"], "sourceConfig": {"endpoint": "/objects", "resultsPosition": "results"},
                "sourceTargetMapping": mapping["id"], "targetType": "register/schema", "targetId": "zaken/zaak"
            }));
            let key = sync["id"].to_string();
            let started = Instant::now();
            let first = state.sync.run(&key, RunOptions::default()).await.expect("first sync");
            let rate = total as f64 / started.elapsed().as_secs_f64();
            assert_eq!(first["result"]["objects"]["created"], total as u64, "{}", first["message"]);
            if rate > first_rate {
                first_rate = rate;
                best = Some((key, first));
            }
        }
        let (key, first) = best.expect("at least one round");
        let started = Instant::now();
        let again = state.sync.run(&key, RunOptions::default()).await.expect("re-sync");
        let again_rate = total as f64 / started.elapsed().as_secs_f64();
        assert_eq!(again["result"]["objects"]["skipped"], total as u64, "{}", again["message"]);

        println!("  bare loop (fetch pages, POST objects):   {bare:>9.0} objects/s   best of {rounds} rounds");
        println!("  first sync (map, contracts, upsert):     {first_rate:>9.0} objects/s   best of {rounds}, ratio to bare {:.2}", first_rate / bare);
        println!("  unchanged re-sync (hash, skip):          {again_rate:>9.0} objects/s   ratio to bare {:.2}", again_rate / bare);
        println!("  peak memory of the synchronization:      {:>9.0} MB", peak_memory_mb());
        for (name, log) in [("first sync", &first), ("re-sync", &again)] {
            let stages = &log["result"]["timing"]["stages"];
            let parts: Vec<String> = stages
                .as_object()
                .map(|s| s.iter().map(|(k, v)| format!("{k} {:.0}", v["duration_ms"].as_f64().unwrap_or(0.0))).collect())
                .unwrap_or_default();
            println!("  {name} stages (ms, overlapping): {}", parts.join(", "));
        }
        std::fs::remove_dir_all(&dir).ok();
    });
    let _ = counterparts.kill();
    let _ = counterparts.wait();
}
