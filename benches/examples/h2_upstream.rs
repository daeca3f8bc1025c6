//! The emulator behind HTTP/2 over TLS, in a process of its own, for the gateway
//! benchmark (`benches/gateway/run.sh`): Google is reached over HTTP/2, many streams on
//! one connection, which the emulator's own HTTP/1.1 server cannot show. Writes a
//! private CA's certificate to `--ca-file` (what the gateway is told to trust through
//! `CODEASSIST_CA_FILE`), prints the base URL, and serves until killed. The API key is
//! the emulator's (`codeassist_testkit::emulator::API_KEY`).
//!
//! ```text
//! cargo run --release -p codeassist-benches --example h2_upstream -- \
//!     --ca-file /tmp/ca.pem [--latency-ms 20] [--pace-ms 0]
//! ```

use std::io::Write;
use std::time::Duration;

use codeassist_testkit::emulator::Emulator;
use codeassist_testkit::h2::H2Server;
use codeassist_testkit::tls::private_ca;

fn main() {
    let (mut ca_file, mut latency, mut pace) = (String::new(), 0u64, 0u64);
    let mut raw = std::env::args().skip(1);
    while let Some(flag) = raw.next() {
        let value = raw.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--ca-file" => ca_file = value,
            "--latency-ms" => latency = value.parse().expect("a number"),
            "--pace-ms" => pace = value.parse().expect("a number"),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(!ca_file.is_empty(), "--ca-file is required");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let ca = private_ca();
    std::fs::write(&ca_file, &ca.ca_pem).expect("the CA file");
    let emulator = Emulator::new();
    emulator.set_latency(Duration::from_millis(latency));
    emulator.pace_streams(Duration::from_millis(pace));
    runtime.block_on(async {
        let server = H2Server::start(emulator, &ca.server)
            .await
            .expect("the server");
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{}", server.base_url()).expect("stdout");
        stdout.flush().expect("stdout");
        std::future::pending::<()>().await;
    });
}
