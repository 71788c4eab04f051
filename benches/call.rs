//! Calls per second through the call service (configuration, auth, rate-limit bookkeeping,
//! redacted CallLog stored in SQLite) against the same requests from a bare reqwest loop, the
//! physical limit, in the same run against the same local server.
//!
//! `cargo bench --bench call` (`CALLS` and `CONCURRENCY` change the load, `ROUNDS` how many
//! alternating rounds of each are run; the best of each is compared).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark may stop on a broken set-up

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::{App, HttpResponse, HttpServer, web};
use futures_util::StreamExt;
use openconnector::call::{CallRequest, CallService, CallSettings, SourceSpec};
use openconnector::db::Db;
use reqwest::Method;
use serde_json::json;

fn main() {
    let calls: usize = std::env::var("CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let concurrency: usize = std::env::var("CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").expect("port");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let body = json!({"results": [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}], "next": null}).to_string();
        let server = HttpServer::new(move || {
            let body = body.clone();
            App::new().default_service(web::to(move || {
                let body = body.clone();
                async move { HttpResponse::Ok().content_type("application/json").body(body) }
            }))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);

        let dir = std::env::temp_dir().join(format!("openconnector-call-bench-{}", uuid::Uuid::new_v4()));
        let db = Db::connect(&dir.join("bench.sqlite").to_string_lossy(), "oc_openconnector_", 4).expect("db");
        db.run_blocking(|conn| conn.run_pending_migrations()).expect("migrate");
        let service = Arc::new(CallService::new(db.clone(), CallSettings::default()).expect("service"));
        let source = Arc::new(SourceSpec::from_row(&json!({
            "id": 1, "location": base, "logRetention": 3600, "errorRetention": 86400,
            "configuration": {"headers.Accept": "application/json", "query.limit": "100",
                              "authentication": {"type": "bearer", "token": "bench-token"}}
        })));
        let bare = reqwest::Client::new();

        println!("{calls} calls, {concurrency} at a time, against one local server");
        // Warm both paths (connections, caches) before timing.
        for _ in 0..2 {
            for _ in 0..200 {
                service.call(&source, CallRequest::new(Method::GET, "/items")).await;
                bare.get(format!("{base}/items")).send().await.expect("warm").bytes().await.expect("body");
            }
        }
        service.flush_logs().await;

        // Rounds alternate the bare loop and the service, and the best round of each is
        // compared: the machine's noise then moves neither alone.
        let (mut bare_rate, mut service_rate) = (0.0_f64, 0.0_f64);
        for _ in 0..rounds {
            let started = Instant::now();
            futures_util::stream::iter(0..calls)
                .map(|_| {
                    let (bare, base) = (bare.clone(), base.clone());
                    async move {
                        let response = bare
                            .get(format!("{base}/items"))
                            .query(&[("limit", "100")])
                            .header("accept", "application/json")
                            .bearer_auth("bench-token")
                            .send()
                            .await
                            .expect("call");
                        assert!(response.status().is_success());
                        response.bytes().await.expect("body");
                    }
                })
                .buffer_unordered(concurrency)
                .collect::<Vec<()>>()
                .await;
            bare_rate = bare_rate.max(calls as f64 / started.elapsed().as_secs_f64());

            let started = Instant::now();
            futures_util::stream::iter(0..calls)
                .map(|_| {
                    let (service, source) = (Arc::clone(&service), Arc::clone(&source));
                    async move {
                        let response = service.call(&source, CallRequest::new(Method::GET, "/items")).await;
                        assert!(response.is_success());
                    }
                })
                .buffer_unordered(concurrency)
                .collect::<Vec<()>>()
                .await;
            service.flush_logs().await;
            service_rate = service_rate.max(calls as f64 / started.elapsed().as_secs_f64());
        }

        // The logging alone: the same number of records through the writer into SQLite.
        let writer = openconnector::call::calllog::CallLogWriter::start(db.clone());
        let started = Instant::now();
        for n in 0..calls {
            writer.write(Arc::new(openconnector::call::calllog::CallRecord::new(
                Some(1),
                None,
                200,
                "OK",
                json!({"url": format!("{base}/items?limit=100"), "method": "GET", "headers": {"accept": "application/json", "authorization": "••••"}}).to_string(),
                json!({"statusCode": 200, "statusMessage": "OK", "responseTime": 0.3, "size": n, "remoteIp": "127.0.0.1", "headers": {"content-type": ["application/json"]}}).to_string(),
                openconnector::call::calllog::Retention { success: 3600, error: 86400 },
            )));
        }
        writer.flush().await;
        let log_rate = calls as f64 / started.elapsed().as_secs_f64();

        println!("  bare reqwest loop:            {bare_rate:>9.0} calls/s   best of {rounds} rounds");
        println!("  call logs stored alone:       {log_rate:>9.0} logs/s");
        println!("  call service with CallLogs:   {service_rate:>9.0} calls/s   best of {rounds} rounds");
        println!("  ratio service / bare:         {:>9.2}", service_rate / bare_rate);
        std::fs::remove_dir_all(&dir).ok();
    });
}
