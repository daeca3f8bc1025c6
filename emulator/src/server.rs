//! The emulator behind a loopback HTTP/1.1 server: one thread per connection, which
//! answers one request and closes (the default, so every request of a test is on a
//! fresh connection), or keeps the connection open for more (for benchmarks).

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
    tls: bool,
}

impl Server {
    /// Binds `127.0.0.1` on a free port and serves `emulator` there, one request per
    /// connection.
    pub fn start(emulator: Emulator) -> std::io::Result<Self> {
        Self::start_with(emulator, false)
    }

    /// Like [`Server::start`], but a connection stays open for further requests
    /// until the client closes it or asks to (`Connection: close`).
    pub fn start_keep_alive(emulator: Emulator) -> std::io::Result<Self> {
        Self::start_with(emulator, true)
    }

    /// Like [`Server::start`], over TLS with `tls` (a test's private CA's server
    /// certificate, say); the base URL is `https://localhost:{port}`.
    pub fn start_tls(emulator: Emulator, tls: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        Self::listen(
            emulator,
            false,
            Some(tls),
            SocketAddr::from(([127, 0, 0, 1], 0)),
        )
    }

    /// Like [`Server::start_tls`], bound to `ip` (a non-loopback address of this
    /// machine, for tests that go through a proxy, which loopback never does); the base
    /// URL is `https://{ip}:{port}`.
    pub fn start_tls_on(
        emulator: Emulator,
        tls: Arc<rustls::ServerConfig>,
        ip: std::net::IpAddr,
    ) -> std::io::Result<Self> {
        Self::listen(emulator, false, Some(tls), SocketAddr::new(ip, 0))
    }

    /// Serves `emulator` over plain HTTP at `addr` (port 0: a free one), a connection
    /// kept open for further requests, as a process other programs talk to does.
    pub fn start_at(emulator: Emulator, addr: SocketAddr) -> std::io::Result<Self> {
        Self::listen(emulator, true, None, addr)
    }

    fn start_with(emulator: Emulator, keep_alive: bool) -> std::io::Result<Self> {
        Self::listen(
            emulator,
            keep_alive,
            None,
            SocketAddr::from(([127, 0, 0, 1], 0)),
        )
    }

    fn listen(
        emulator: Emulator,
        keep_alive: bool,
        tls: Option<Arc<rustls::ServerConfig>>,
        addr: SocketAddr,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let is_tls = tls.is_some();
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
                    let tls = tls.clone();
                    std::thread::spawn(move || {
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                        let _ = stream.set_nodelay(true);
                        let _ = match tls {
                            None => serve_connection(stream, &emulator, keep_alive),
                            Some(tls) => rustls::ServerConnection::new(tls)
                                .map_err(std::io::Error::other)
                                .and_then(|connection| {
                                    let stream = rustls::StreamOwned::new(connection, stream);
                                    serve_connection(stream, &emulator, keep_alive)
                                }),
                        };
                    });
                }
            })
        };
        Ok(Self {
            addr,
            stop,
            thread: Some(thread),
            tls: is_tls,
        })
    }

    /// The base URL, such as `http://127.0.0.1:41234` (`https://localhost:41234`
    /// over TLS).
    pub fn base_url(&self) -> String {
        match (self.tls, self.addr.ip().is_loopback()) {
            (true, true) => format!("https://localhost:{}", self.addr.port()),
            (true, false) => format!("https://{}", self.addr),
            (false, _) => format!("http://{}", self.addr),
        }
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

fn serve_connection<S: Read + Write>(
    stream: S,
    emulator: &Emulator,
    keep_alive: bool,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let Some((request, client_closes)) = read_request(&mut reader)? else {
            return Ok(());
        };
        let answer = emulator.handle(&request, SystemTime::now());
        std::thread::sleep(answer.delay);
        let Some(response) = answer.response else {
            // A dropped connection: close without a byte.
            return Ok(());
        };
        let stays_open = keep_alive && !client_closes;
        let reason = response.status().canonical_reason().unwrap_or("");
        let mut head = format!("HTTP/1.1 {} {reason}\r\n", response.status().as_u16());
        for (name, value) in response.headers() {
            head.push_str(&format!("{}: {}\r\n", name, value.to_str().unwrap_or("")));
        }
        head.push_str(&format!(
            "content-length: {}\r\nconnection: {}\r\n\r\n",
            response.body().len(),
            if stays_open { "keep-alive" } else { "close" }
        ));
        if answer.pace.is_zero() {
            // One write: head and body in separate small writes would wait on delayed
            // ACKs (Nagle) once the connection is kept open.
            let mut message = head.into_bytes();
            message.extend_from_slice(response.body());
            reader.get_mut().write_all(&message)?;
            reader.get_mut().flush()?;
        } else {
            // A slow model: the head, then each event after a pause.
            reader.get_mut().write_all(head.as_bytes())?;
            reader.get_mut().flush()?;
            for piece in paced_pieces(response.body()) {
                std::thread::sleep(answer.pace);
                reader.get_mut().write_all(piece)?;
                reader.get_mut().flush()?;
            }
        }
        if !stays_open {
            return Ok(());
        }
    }
}

/// The pieces of a streamed body that a server sends one [`Answer::pace`] apart: each
/// server-sent event with its blank line (what is left after the last one is the last
/// piece). Every server of the emulator paces streams so.
///
/// [`Answer::pace`]: crate::Answer::pace
pub fn paced_pieces(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = body;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = find_event_end(rest).unwrap_or(rest.len());
        let (piece, after) = rest.split_at(end);
        rest = after;
        Some(piece)
    })
}

/// Where the first server-sent event of `bytes` ends (after its blank line).
fn find_event_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
        .or_else(|| bytes.windows(2).position(|w| w == b"\n\n").map(|at| at + 2))
}

/// Reads one request, and whether the client asked to close after it; `None` at the
/// end of the connection or for a request line that is not HTTP.
fn read_request<S: Read>(
    reader: &mut BufReader<S>,
) -> std::io::Result<Option<(http::Request<Vec<u8>>, bool)>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    let mut builder = http::Request::builder().method(method).uri(target);
    let mut length = 0usize;
    let mut closes = false;
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
            if name.eq_ignore_ascii_case("connection") && value.trim().eq_ignore_ascii_case("close")
            {
                closes = true;
            }
            builder = builder.header(name.trim(), value.trim());
        }
    }
    let mut body = vec![0; length.min(MAX_BODY)];
    reader.read_exact(&mut body)?;
    Ok(builder.body(body).ok().map(|request| (request, closes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `requests` on one connection and returns everything the server said.
    fn exchange(server: &Server, requests: &str) -> String {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream.write_all(requests.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    }

    const GET: &str = "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n";
    const GET_AND_CLOSE: &str = "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

    #[test]
    fn a_streamed_body_is_paced_event_by_event() {
        let body = b"data: 1\r\n\r\ndata: 2\n\ndata: 3";
        let pieces: Vec<&[u8]> = paced_pieces(body).collect();
        assert_eq!(
            pieces,
            [&b"data: 1\r\n\r\n"[..], b"data: 2\n\n", b"data: 3"]
        );
        assert_eq!(pieces.concat(), body);
        assert_eq!(paced_pieces(b"").count(), 0);
    }

    #[test]
    fn one_request_per_connection_by_default() {
        let server = Emulator::new().serve().unwrap();
        let answer = exchange(&server, &format!("{GET}{GET}"));
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
        assert!(answer.contains("connection: close"), "{answer}");
    }

    #[test]
    fn keep_alive_answers_until_the_client_asks_to_close() {
        let server = Emulator::new().serve_keep_alive().unwrap();
        let answer = exchange(&server, &format!("{GET}{GET}{GET_AND_CLOSE}{GET}"));
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 3, "{answer}");
        assert_eq!(
            answer.matches("connection: keep-alive").count(),
            2,
            "{answer}"
        );
        assert!(
            answer.ends_with('}') || answer.contains("connection: close"),
            "{answer}"
        );
    }
}
