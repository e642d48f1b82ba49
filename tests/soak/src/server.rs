//! One example echo server under test: started with a lowered descriptor
//! limit (`prlimit`), its stderr watched for panics, and its resident
//! memory and open descriptors sampled from `/proc` every second.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// What the soak learns about a server while it runs.
#[derive(Default)]
pub struct Watch {
    /// Lines of its stderr that name a panic.
    pub panics: Mutex<Vec<String>>,
    /// Its "accept failed" lines: it ran out of descriptors and kept going.
    pub accept_failures: AtomicU64,
    /// Resident memory: the highest sample, KiB.
    pub peak_rss_kib: AtomicU64,
    /// Open descriptors: the highest sample.
    pub peak_fds: AtomicUsize,
    /// The process ended while the soak ran.
    pub exited: AtomicBool,
}

pub struct Server {
    /// "blocking", "tokio" or "mio".
    pub name: &'static str,
    pub addr: SocketAddr,
    /// The descriptor limit it runs under.
    pub nofile: usize,
    pub child: Child,
    pub watch: Arc<Watch>,
    /// Resident memory (KiB) and descriptors once listening, before any client.
    pub base_rss_kib: u64,
    pub base_fds: usize,
}

/// The three example servers: name, example binary.
pub const EXAMPLES: [(&str, &str); 3] =
    [("blocking", "echo_server"), ("tokio", "echo_server_tokio"), ("mio", "echo_server_mio")];

impl Server {
    /// Starts `bin` on a free loopback port with `--deflate`, under
    /// `nofile` descriptors, and waits for its "listening" line.
    pub fn start(name: &'static str, bin: &Path, nofile: usize) -> Result<Server, String> {
        let addr = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?;
        let mut child = Command::new("prlimit")
            .arg(format!("--nofile={nofile}:{nofile}"))
            .arg("--")
            .arg(bin)
            .arg(addr.to_string())
            .arg("--deflate")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{name}: cannot start {} under prlimit: {e}", bin.display()))?;
        let watch = Arc::new(Watch::default());
        let (listening, ready) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped");
        let lines = watch.clone();
        let log_path = std::path::PathBuf::from(format!("target/soak/{name}.log"));
        let mut log = std::fs::File::create(&log_path).map(std::io::BufWriter::new).ok();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(log) = log.as_mut() {
                    let _ = writeln!(log, "{line}");
                }
                if line.contains("listening") {
                    let _ = listening.send(());
                } else if line.contains("panicked") {
                    lines.panics.lock().unwrap().push(line);
                } else if line.contains("accept failed") {
                    lines.accept_failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        if ready.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            return Err(format!("{name}: no \"listening\" line within 30 s"));
        }
        let pid = child.id();
        let base_rss_kib = rss_kib(pid).ok_or(format!("{name}: no /proc/{pid}/status"))?;
        let base_fds = fds(pid).ok_or(format!("{name}: no /proc/{pid}/fd"))?;
        Ok(Server { name, addr, nofile, child, watch, base_rss_kib, base_fds })
    }

    /// Samples memory and descriptors every second until the process ends
    /// or `stop` is set.
    pub fn sample_forever(&self, stop: Arc<AtomicBool>) {
        let (pid, watch) = (self.child.id(), self.watch.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match (rss_kib(pid), fds(pid)) {
                    (Some(rss), Some(n)) => {
                        watch.peak_rss_kib.fetch_max(rss, Ordering::Relaxed);
                        watch.peak_fds.fetch_max(n, Ordering::Relaxed);
                    }
                    _ => {
                        watch.exited.store(true, Ordering::Relaxed);
                        return;
                    }
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        });
    }

    /// The process still runs.
    pub fn alive(&mut self) -> bool {
        !self.watch.exited.load(Ordering::Relaxed) && matches!(self.child.try_wait(), Ok(None))
    }

    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.child.id()).unwrap_or(0)
    }

    pub fn fds(&self) -> usize {
        fds(self.child.id()).unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The resident set of `pid`, KiB (`VmRSS` in `/proc/PID/status`).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// How many descriptors `pid` has open (entries of `/proc/PID/fd`).
fn fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}
