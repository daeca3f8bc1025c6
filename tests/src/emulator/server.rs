//! The emulator behind a loopback HTTP/1.1 server (one thread per connection,
//! `Connection: close`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::Emulator;

/// The largest request body read.
const MAX_BODY: usize = 1024 * 1024;

/// A running emulator server; it stops when dropped.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `127.0.0.1` on a free port and serves `emulator` there.
    pub fn start(emulator: Emulator) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let emulator = emulator.clone();
                    std::thread::spawn(move || {
                        let _ = serve_connection(stream, &emulator);
                    });
                }
            })
        };
        Ok(Self {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The base URL, such as `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_connection(stream: TcpStream, emulator: &Emulator) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    let mut builder = http::Request::builder().method(method).uri(target);
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            break;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
            builder = builder.header(name.trim(), value.trim());
        }
    }
    let mut body = vec![0; length.min(MAX_BODY)];
    reader.read_exact(&mut body)?;
    let Ok(request) = builder.body(body) else {
        return Ok(());
    };
    let answer = emulator.handle(&request, SystemTime::now());
    std::thread::sleep(answer.delay);
    let Some(response) = answer.response else {
        // A dropped connection: close without a byte.
        return Ok(());
    };
    let mut stream = stream;
    let reason = response.status().canonical_reason().unwrap_or("");
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", response.status().as_u16());
    for (name, value) in response.headers() {
        head.push_str(&format!("{}: {}\r\n", name, value.to_str().unwrap_or("")));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        response.body().len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(response.body())?;
    stream.flush()
}
