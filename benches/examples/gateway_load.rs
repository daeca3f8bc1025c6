//! A load generator for the gateway benchmarks (`benches/gateway/run.sh`): keeps
//! `--concurrency` connections busy for `--seconds` with one request each at a time,
//! and prints one JSON line: requests, errors, requests per second, and latency
//! percentiles in milliseconds (to the end of the answer, or to its first byte with
//! `--first-byte`). `--hold N` instead opens N streams (their heads received, their
//! bodies unread) and holds them open for `--seconds` (memory per open stream).
//!
//! ```text
//! cargo run --release -p codeassist-benches --example gateway_load -- \
//!     --url http://127.0.0.1:8080/v1/chat/completions --concurrency 64 --seconds 10 \
//!     --body '{"model": "gemini-3.8-flash", "messages": [{"role": "user", "content": "hi"}]}'
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

struct Args {
    url: String,
    body: String,
    headers: Vec<(String, String)>,
    concurrency: usize,
    seconds: f64,
    first_byte: bool,
    hold: usize,
}

fn args() -> Args {
    let mut args = Args {
        url: String::new(),
        body: String::new(),
        headers: Vec::new(),
        concurrency: 1,
        seconds: 5.0,
        first_byte: false,
        hold: 0,
    };
    let mut raw = std::env::args().skip(1);
    while let Some(flag) = raw.next() {
        let mut value = || raw.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = value(),
            "--body" => args.body = value(),
            "--header" => {
                let header = value();
                let (name, value) = header.split_once(':').expect("--header NAME:VALUE");
                args.headers
                    .push((name.trim().to_owned(), value.trim().to_owned()));
            }
            "--concurrency" => args.concurrency = value().parse().expect("a number"),
            "--seconds" => args.seconds = value().parse().expect("a number"),
            "--first-byte" => args.first_byte = true,
            "--hold" => args.hold = value().parse().expect("a number"),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(!args.url.is_empty(), "--url is required");
    args
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn request(args: &Args) -> http::Request<Full<Bytes>> {
    let mut builder = http::Request::post(&args.url).header("content-type", "application/json");
    for (name, value) in &args.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(Bytes::from(args.body.clone())))
        .expect("a request")
}

/// One request: its latency in milliseconds, or `None` when it failed.
async fn one(client: &HttpClient, args: &Args) -> Option<f64> {
    let started = Instant::now();
    let response = client.request(request(args)).await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let mut body = response.into_body();
    if args.first_byte {
        let _ = body.frame().await?;
        let elapsed = started.elapsed();
        while body.frame().await.is_some() {}
        return Some(elapsed.as_secs_f64() * 1000.0);
    }
    body.collect().await.ok()?;
    Some(started.elapsed().as_secs_f64() * 1000.0)
}

fn main() {
    let args = std::sync::Arc::new(args());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        let client: HttpClient = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(args.concurrency.max(args.hold))
            .build(connector);
        if args.hold > 0 {
            let mut held = Vec::new();
            for _ in 0..args.hold {
                // Opened (its head received) and left unread: an idle open stream.
                let response = client.request(request(&args)).await.expect("a stream");
                held.push(response.into_body());
            }
            println!("{{\"held\": {}}}", held.len());
            tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
            return;
        }
        let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..args.concurrency {
            let (client, args) = (client.clone(), args.clone());
            tasks.push(tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0usize);
                while Instant::now() < deadline {
                    match one(&client, &args).await {
                        Some(ms) => latencies.push(ms),
                        None => errors += 1,
                    }
                }
                (latencies, errors)
            }));
        }
        let (mut latencies, mut errors) = (Vec::new(), 0);
        for task in tasks {
            let (some, failed) = task.await.expect("a task");
            latencies.extend(some);
            errors += failed;
        }
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort_by(f64::total_cmp);
        println!(
            "{{\"requests\": {}, \"errors\": {errors}, \"rps\": {:.1}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}}}",
            latencies.len(),
            latencies.len() as f64 / elapsed,
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0),
        );
    });
}
