//! Decoding a recorded stream: our incremental decoder against a baseline that only
//! splits lines and strips `data: ` (no CR handling, no multi-line events, no bounds).

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use codeassist_core::inference::{SseDecoder, StreamReader};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// About 1 MB of events shaped like Code Assist's: one text part each, CRLF ends.
fn recorded() -> Vec<u8> {
    let mut stream = Vec::new();
    let mut index = 0;
    while stream.len() < 1024 * 1024 {
        stream.extend_from_slice(
            format!(
                "data: {{\"response\": {{\"candidates\": [{{\"content\": {{\"role\": \"model\", \"parts\": [{{\"text\": \"token number {index} of a long answer\"}}]}}}}], \"modelVersion\": \"gemini-2.5-pro\"}}}}\r\n\r\n"
            )
            .as_bytes(),
        );
        index += 1;
    }
    stream
}

fn baseline(stream: &[u8]) -> usize {
    stream
        .split(|b| *b == b'\n')
        .filter_map(|line| line.strip_prefix(b"data: "))
        .map(|data| data.len())
        .sum()
}

fn sse(c: &mut Criterion) {
    let stream = recorded();
    let mut group = c.benchmark_group("sse");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("decoder-16k-chunks", |b| {
        b.iter(|| {
            let mut decoder = SseDecoder::new();
            let mut out = Vec::new();
            for chunk in black_box(&stream).chunks(16 * 1024) {
                decoder.feed(chunk, &mut out);
            }
            out.len()
        })
    });
    group.bench_function("reader-with-json-16k-chunks", |b| {
        b.iter(|| {
            let mut reader = StreamReader::new();
            let mut items = 0;
            for chunk in black_box(&stream).chunks(16 * 1024) {
                items += reader.push(chunk, UNIX_EPOCH).len();
            }
            items
        })
    });
    group.bench_function("line-split-baseline", |b| {
        b.iter(|| baseline(black_box(&stream)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = sse
}
criterion_main!(benches);
