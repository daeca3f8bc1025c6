//! A real CONNECT proxy for tests: Debian's `tinyproxy`, started on a loopback port
//! with a configuration of the test's own, and stopped when dropped. Tests that need
//! it say plainly that they were skipped when the program is not installed
//! (`.ci/run` installs it).

use std::net::{IpAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running tinyproxy.
#[derive(Debug)]
pub struct Tinyproxy {
    child: Child,
    port: u16,
    _dir: PathBuf,
}

impl Tinyproxy {
    /// Starts tinyproxy on a free loopback port, asking for `credentials`
    /// (`user:password`) when given; `None` (and a line on stderr) when tinyproxy is
    /// not installed.
    pub fn start(credentials: Option<(&str, &str)>) -> Option<Self> {
        if Command::new("tinyproxy").arg("-v").output().is_err() {
            eprintln!(
                "skipped: tinyproxy is not installed (apt-get install tinyproxy; .ci/run does)"
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!(
            "codeassist-tinyproxy-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let mut config = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 64\nLogLevel Critical\nAllow 127.0.0.1\n"
        );
        if let Some((user, password)) = credentials {
            config.push_str(&format!("BasicAuth {user} {password}\n"));
        }
        let file = dir.join("tinyproxy.conf");
        std::fs::write(&file, config).expect("the configuration");
        let child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "tinyproxy did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self {
            child,
            port,
            _dir: dir,
        })
    }

    /// The proxy URL, with `credentials` in it when given.
    pub fn url(&self, credentials: Option<(&str, &str)>) -> String {
        match credentials {
            Some((user, password)) => format!("http://{user}:{password}@127.0.0.1:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

/// A non-loopback address of this machine (loopback is never proxied, so a test of a
/// proxy serves the emulator here); `None`, with a line on stderr, when there is none.
pub fn non_loopback_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    // No packet is sent: connecting a UDP socket only picks the route's source.
    let found = socket
        .connect("192.0.2.1:9")
        .and_then(|()| socket.local_addr())
        .ok()
        .map(|addr| addr.ip())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified());
    if found.is_none() {
        eprintln!("skipped: this machine has no non-loopback address to serve the emulator on");
    }
    found
}
