//! A fixed workload for profilers (callgrind, perf): builds one `ApiError` per
//! iteration from a bench body, or runs serde_json's `IgnoredAny` floor on it.
//!
//! ```sh
//! cargo build --release -p codeassist-benches --example profile_envelope
//! valgrind --tool=callgrind target/release/examples/profile_envelope capacity
//! ```
//!
//! Arguments: `capacity` (default) or `quota` for the body, then `floor` or `naive`
//! to profile that baseline instead of ours, or `message` to build the human line too.

use std::hint::black_box;
use std::time::UNIX_EPOCH;

use codeassist_core::ApiError;

const ITERATIONS: usize = 100_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let body: &[u8] = if args.iter().any(|a| a == "quota") {
        include_bytes!("../data/429-free-tier-quota.json")
    } else {
        include_bytes!("../data/429-capacity.json")
    };
    let floor = args.iter().any(|a| a == "floor");
    let naive = args.iter().any(|a| a == "naive");
    let message = args.iter().any(|a| a == "message");
    let headers = http::HeaderMap::new();
    let mut checksum = 0usize;
    for _ in 0..ITERATIONS {
        checksum += if naive {
            usize::from(
                codeassist_benches::baselines::naive(black_box(body))
                    .1
                    .is_some(),
            )
        } else if floor {
            usize::from(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(body)).is_ok())
        } else {
            let error = ApiError::from_parts(429, &headers, black_box(body), UNIX_EPOCH);
            if message {
                error.message().len()
            } else {
                error.class() as usize
            }
        };
    }
    println!("{ITERATIONS} iterations, checksum {checksum}");
}
