//! Calls per second through the call service (configuration, auth, rate-limit bookkeeping,
//! redacted CallLog stored in SQLite) against the same requests from a bare reqwest loop, the
//! physical limit, in the same run against the same local server.
//!
//! `cargo bench --bench call` (`CALLS` and `CONCURRENCY` change the load, `ROUNDS` how many
//! alternating rounds of each are run, 7 by default; the best of each is compared, and each
//! round's ratio gives a median). The median CPU time per call of each loop, all threads
//! counted, is printed too.

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
        .unwrap_or(7);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").expect("port");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let body =
            json!({"results": [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}], "next": null})
                .to_string();
        let server = HttpServer::new(move || {
            let body = body.clone();
            App::new().default_service(web::to(move || {
                let body = body.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);

        let dir =
            std::env::temp_dir().join(format!("openconnector-call-bench-{}", uuid::Uuid::new_v4()));
        let db = Db::connect(
            &dir.join("bench.sqlite").to_string_lossy(),
            "oc_openconnector_",
            4,
        )
        .expect("db");
        db.run_blocking(|conn| conn.run_pending_migrations())
            .expect("migrate");
        let service =
            Arc::new(CallService::new(db.clone(), CallSettings::default()).expect("service"));
        let source = Arc::new(SourceSpec::from_row(&json!({
            "id": 1, "location": base, "logRetention": 3600, "errorRetention": 86400,
            "configuration": {"headers.Accept": "application/json", "query.limit": "100",
                              "authentication": {"type": "bearer", "token": "bench-token"}}
        })));
        let bare = reqwest::Client::new();

        println!("{calls} calls, {concurrency} at a time, against one local server");
        // Warm both paths before timing: connections and caches one call at a time, then a
        // concurrent round of each, so the log writer has prepared its statements for every
        // batch size a timed round uses.
        for _ in 0..200 {
            service
                .call(&source, CallRequest::new(Method::GET, "/items"))
                .await;
            bare_call(bare.clone(), base.clone()).await;
        }
        bare_round(&bare, &base, calls / 4, concurrency).await;
        service_round(&service, &source, calls / 4, concurrency).await;
        service.flush_logs().await;

        // Rounds alternate the bare loop and the service. The machine's noise moves single
        // rounds by a third, so two figures are given: the best round of each, and the median
        // of each round's own ratio (a service round against the bare round just before it).
        let (mut bare_rate, mut service_rate) = (0.0_f64, 0.0_f64);
        let mut ratios = Vec::with_capacity(rounds);
        let (mut bare_cpu, mut service_cpu) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let cpu = cpu_time();
            let started = Instant::now();
            bare_round(&bare, &base, calls, concurrency).await;
            let bare_rate_now = calls as f64 / started.elapsed().as_secs_f64();
            bare_rate = bare_rate.max(bare_rate_now);
            bare_cpu.extend(cpu_per_call(cpu, calls));

            let cpu = cpu_time();
            let started = Instant::now();
            service_round(&service, &source, calls, concurrency).await;
            service.flush_logs().await;
            let service_rate_now = calls as f64 / started.elapsed().as_secs_f64();
            service_rate = service_rate.max(service_rate_now);
            ratios.push(service_rate_now / bare_rate_now);
            service_cpu.extend(cpu_per_call(cpu, calls));
        }

        // The logging alone: the same number of records (a call's facts, made JSON and
        // redacted on the writer's thread) through the writer into SQLite.
        use openconnector::call::calllog::{
            CallLogWriter, CallRecord, GotResponse, LogOwner, SentRequest,
        };
        let writer = CallLogWriter::start(db.clone());
        let owner = LogOwner {
            source_id: source.id,
            synchronization_id: None,
            redactor: Arc::clone(&source.redactor),
            retention: source.retention,
        };
        let mut sent_headers = reqwest::header::HeaderMap::new();
        sent_headers.insert("accept", "application/json".parse().unwrap());
        sent_headers.insert("authorization", "Bearer bench-token".parse().unwrap());
        // Shared, as the call service shares a source's headers among its calls' logs.
        let sent_headers = Arc::new(sent_headers);
        let mut got_headers = reqwest::header::HeaderMap::new();
        got_headers.insert("content-type", "application/json".parse().unwrap());
        let cpu = cpu_time();
        let started = Instant::now();
        for n in 0..calls {
            let sent = SentRequest {
                method: Method::GET,
                url: format!("{base}/items?limit=100"),
                headers: Some(Arc::clone(&sent_headers)),
                body_length: None,
                body: None,
                purpose: None,
            };
            let got = GotResponse {
                elapsed: std::time::Duration::from_micros(300),
                remote_ip: Some(std::net::Ipv4Addr::LOCALHOST.into()),
                headers: got_headers.clone(),
                size: n,
                body: None,
            };
            writer.write(Arc::new(CallRecord::new(
                owner.clone(),
                200,
                "OK",
                sent,
                got,
            )));
        }
        writer.flush().await;
        let log_rate = calls as f64 / started.elapsed().as_secs_f64();
        let log_cpu = cpu_per_call(cpu, calls);

        println!(
            "  bare reqwest loop:            {bare_rate:>9.0} calls/s   best of {rounds} rounds"
        );
        println!(
            "  call logs stored alone:       {log_rate:>9.0} logs/s{}",
            log_cpu.map_or(String::new(), |cpu| format!("   {cpu:.1} µs CPU per log"))
        );
        println!(
            "  call service with CallLogs:   {service_rate:>9.0} calls/s   best of {rounds} rounds"
        );
        println!(
            "  ratio service / bare:         {:>9.2}   best against best",
            service_rate / bare_rate
        );
        let rounds_text: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "  ratio, median of rounds:      {:>9.2}   rounds: {}",
            median(&mut ratios).unwrap_or_default(),
            rounds_text.join(" ")
        );
        if let (Some(bare), Some(service)) = (median(&mut bare_cpu), median(&mut service_cpu)) {
            println!(
                "  CPU per call, median:         {bare:>9.1} µs bare, {service:.1} µs service (ratio {:.2})",
                bare / service
            );
        }
        std::fs::remove_dir_all(&dir).ok();
    });
}

/// One request of the bare loop: what the service sends for the bench's source (but our
/// User-Agent), by hand.
async fn bare_call(bare: reqwest::Client, base: String) {
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

/// `calls` bare requests, `concurrency` at a time.
async fn bare_round(bare: &reqwest::Client, base: &str, calls: usize, concurrency: usize) {
    futures_util::stream::iter(0..calls)
        .map(|_| bare_call(bare.clone(), base.to_owned()))
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>()
        .await;
}

/// `calls` calls through the service, `concurrency` at a time.
async fn service_round(
    service: &Arc<CallService>,
    source: &Arc<SourceSpec>,
    calls: usize,
    concurrency: usize,
) {
    futures_util::stream::iter(0..calls)
        .map(|_| {
            let (service, source) = (Arc::clone(service), Arc::clone(source));
            async move {
                let response = service
                    .call(&source, CallRequest::new(Method::GET, "/items"))
                    .await;
                assert!(response.is_success());
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>()
        .await;
}

/// CPU time of the whole process (every thread: client, connections, server, log writer) in
/// nanoseconds, from the scheduler's per-thread accounting; `None` where `/proc` lacks it.
/// The two cores are shared by everything, so CPU per call says where a ratio comes from.
fn cpu_time() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// Microseconds of CPU per call since `started` (a [`cpu_time`] reading). A thread that ended
/// in between took its time with it, so the difference saturates.
fn cpu_per_call(started: Option<u64>, calls: usize) -> Option<f64> {
    let spent = cpu_time()?.saturating_sub(started?);
    Some(spent as f64 / 1000.0 / calls as f64)
}

fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}
