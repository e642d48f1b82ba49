//! The soak: the three example echo servers (blocking, tokio, mio) at
//! once, each under a lowered descriptor limit, each served by
//! well-behaved clients that check every echo while hostile and faulty
//! peers misbehave beside them and a hog takes every descriptor the server
//! has. Then fresh clients check that each server still serves, and the
//! descriptor count must be back where it started.
//!
//! ```text
//! tests/soak/run.sh [--seconds 120] [--conns 60] [--hostile 1] [--think-ms 300] [--slack 5]
//! ```
//!
//! Pass: every well-behaved message echoed intact and in order and every
//! connection closed cleanly; every hostile connection closed within the
//! deadline its server's documented limits promise (`hostile.rs`), with
//! the promised close code; each server out of descriptors at least once
//! and serving through it; resident memory within the bound those limits
//! give; no descriptor leaked; no panic; every server still running.
//! Exits 1 with the reasons otherwise.

mod failures;
mod hog;
mod honest;
mod hostile;
mod server;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hostile::Kind;
use server::Server;
use tokio::time::{Instant, sleep};

struct Args {
    seconds: u64,
    /// Well-behaved client slots per server.
    conns: usize,
    /// Hostile peers per kind per server.
    hostile: usize,
    think: Duration,
    slack: Duration,
    bin_dir: PathBuf,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        seconds: 120,
        conns: 60,
        hostile: 1,
        think: Duration::from_millis(300),
        slack: Duration::from_secs(5),
        bin_dir: PathBuf::from("target/release/examples"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{v}: {e}"));
        match flag.as_str() {
            "--seconds" => args.seconds = number(value()?)?,
            "--conns" => args.conns = number(value()?)? as usize,
            "--hostile" => args.hostile = number(value()?)? as usize,
            "--think-ms" => args.think = Duration::from_millis(number(value()?)?),
            "--slack" => args.slack = Duration::from_secs(number(value()?)?),
            "--bin-dir" => args.bin_dir = PathBuf::from(value()?),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    // The longest misbehaviour (a ping flood, 70 s) must fit at least once.
    if args.seconds < 90 {
        return Err("--seconds must be at least 90: the slowest deadline is 70 s".into());
    }
    Ok(args)
}

/// Everything measured against one server.
struct Target {
    server: Server,
    honest: Arc<honest::Stats>,
    kinds: Vec<(Kind, Arc<hostile::KindStats>)>,
    hostile_open: Arc<hostile::Open>,
    hog: Arc<hog::Stats>,
    /// The last phase's fresh clients.
    fresh: Arc<honest::Stats>,
}

fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    match runtime.block_on(soak(&args)) {
        Ok(failures) if failures.is_empty() => {
            println!("\nsoak: PASS");
            ExitCode::SUCCESS
        }
        Ok(failures) => {
            println!("\nsoak: FAIL");
            for f in failures {
                println!("  - {f}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::from(2)
        }
    }
}

async fn soak(args: &Args) -> Result<Vec<String>, String> {
    // Each server's descriptors: a few of its own, the well-behaved and
    // hostile connections, and a margin for reconnections; the hog takes
    // the rest.
    let nofile = 16 + args.conns + args.hostile * Kind::ALL.len() + 48;
    let mut targets = Vec::new();
    for (name, bin) in server::EXAMPLES {
        let server = Server::start(name, &args.bin_dir.join(bin), nofile)?;
        println!("{name}: {} listening on {} under `ulimit -n {nofile}`", bin, server.addr);
        targets.push(Target {
            server,
            honest: Arc::default(),
            kinds: Kind::ALL.iter().map(|&k| (k, Arc::default())).collect(),
            hostile_open: Arc::default(),
            hog: Arc::default(),
            fresh: Arc::default(),
        });
    }
    let stop_sampling = Arc::new(AtomicBool::new(false));
    for t in &targets {
        t.server.sample_forever(stop_sampling.clone());
    }

    let start = Instant::now();
    let until = start + Duration::from_secs(args.seconds);
    println!(
        "soak: {} s; per server {} well-behaved client slots, {} hostile peers of each of {} kinds, a descriptor hog",
        args.seconds,
        args.conns,
        args.hostile,
        Kind::ALL.len()
    );
    let mut tasks = tokio::task::JoinSet::new();
    let period = Duration::from_secs(45);
    for (i, t) in targets.iter().enumerate() {
        let addr = t.server.addr;
        for slot in 0..args.conns as u64 {
            let plan = honest::Plan {
                until,
                think: args.think,
                deflate: slot % 8 == 0,
                slots: args.conns as u64,
                strict: false,
                seed: 0x50a4 + i as u64,
            };
            tasks.spawn(honest::run(slot, addr, plan, t.honest.clone()));
        }
        for (kind, stats) in &t.kinds {
            for _ in 0..args.hostile {
                tasks.spawn(hostile::run(
                    *kind,
                    addr,
                    until,
                    args.slack,
                    stats.clone(),
                    t.hostile_open.clone(),
                    t.hog.clone(),
                ));
            }
        }
        // Staggered, so that one server at a time is out of descriptors.
        let first = start + Duration::from_secs(10) + period * i as u32 / 3;
        let (hog, cap) = (t.hog.clone(), nofile + 1100);
        tasks.spawn(async move { hog::run(addr, cap, first, period, until, &hog).await });
    }
    let grace = Duration::from_secs(60);
    let mut ticks = tokio::time::interval_at(start + Duration::from_secs(15), Duration::from_secs(15));
    while !tasks.is_empty() && Instant::now() < until + grace {
        tokio::select! {
            joined = tasks.join_next() => {
                if let Some(Err(e)) = joined {
                    return Err(format!("a soak task panicked: {e}"));
                }
            }
            _ = ticks.tick() => progress(&targets, start),
        }
    }
    let mut failures = Vec::new();
    if !tasks.is_empty() {
        failures.push(format!("{} clients or peers still running {grace:?} after the end", tasks.len()));
        tasks.abort_all();
    }
    progress(&targets, start);

    // Still serving: fresh clients must all get through.
    let fresh_until = Instant::now() + Duration::from_secs(10);
    for t in &targets {
        for slot in 0..20u64 {
            let plan = honest::Plan {
                until: fresh_until,
                think: Duration::from_millis(50),
                deflate: slot % 2 == 0,
                slots: 20,
                strict: true,
                seed: 0xf4e5,
            };
            tasks.spawn(honest::run(1000 + slot, t.server.addr, plan, t.fresh.clone()));
        }
    }
    while tokio::time::timeout(Duration::from_secs(60), tasks.join_next()).await.is_ok_and(|r| r.is_some()) {}
    if !tasks.is_empty() {
        failures.push("fresh clients still running 60 s after their end".into());
        tasks.abort_all();
    }

    // Descriptors back to where they started (connections the hog left in
    // a backlog are accepted, time out and close within the handshake
    // timeout).
    let settle = Instant::now() + Duration::from_secs(30);
    while Instant::now() < settle && targets.iter().any(|t| t.server.fds() > t.server.base_fds) {
        sleep(Duration::from_millis(500)).await;
    }
    stop_sampling.store(true, Ordering::Relaxed);
    for t in &mut targets {
        failures.extend(report(t, args).into_iter().map(|f| format!("{}: {f}", t.server.name)));
    }
    Ok(failures)
}

fn progress(targets: &[Target], start: Instant) {
    let line: Vec<String> = targets
        .iter()
        .map(|t| {
            format!(
                "{} {} echoes, {} open, {} hostile, {} MiB",
                t.server.name,
                t.honest.echoes.load(Ordering::Relaxed),
                t.honest.open.load(Ordering::Relaxed),
                t.hostile_open.now.load(Ordering::Relaxed),
                t.server.rss_kib() / 1024
            )
        })
        .collect();
    println!("[{:>4} s] {}", start.elapsed().as_secs(), line.join("; "));
}

/// Memory one hostile connection may hold under `Config::public_server`
/// (its docs' table): a message of 1 MiB in progress and the 1.125 MiB frame
/// being read, 256 KiB kept for each of the input and the reassembly, the
/// deflate contexts (about 417 KiB), and up to 1 MiB of unwritten output
/// (the mio example's backpressure bound; the tokio adapter's is 128 KiB,
/// the blocking adapter's one message).
const HOSTILE_KIB: u64 = 1024 + 1152 + 2 * 256 + 420 + 1024;
/// An open well-behaved connection between messages: what
/// `public_server` lets it keep (256 KiB for each of the input and the
/// reassembly, `max_retained_buffer`), and the fixed state, thread stack
/// or task.
const HONEST_KIB: u64 = 2 * 256 + 16;
/// A connection with permessage-deflate adds its contexts.
const DEFLATE_KIB: u64 = 420;
/// A connection the hog opened and never used: a head buffer at most.
const HOG_KIB: u64 = 16;
/// The allocator's own slack and the runtime.
const SLACK_KIB: u64 = 32 << 10;

/// Prints one server's figures; returns what failed.
fn report(t: &mut Target, args: &Args) -> Vec<String> {
    let mut failures = Vec::new();
    if !t.server.alive() {
        failures.push("the server process ended".into());
    }
    let s = &t.server;
    let h = &t.honest;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let loadu = |a: &std::sync::atomic::AtomicUsize| a.load(Ordering::Relaxed);
    println!("\n== {} (ulimit -n {})", s.name, s.nofile);
    println!(
        "well-behaved: {} echoes checked ({:.1} MB), {} connections opened, {} closed cleanly, {} attempts refused while out of descriptors, at most {} open",
        load(&h.echoes),
        load(&h.bytes) as f64 / 1e6,
        load(&h.opened),
        load(&h.closed_cleanly),
        load(&h.refused),
        loadu(&h.peak_open)
    );
    failures.extend(h.failures.list().into_iter().map(|f| format!("well-behaved {f}")));
    if load(&h.echoes) == 0 {
        failures.push("no well-behaved echo at all".into());
    }
    println!("| hostile peer | cycles | skipped | slowest close | deadline (+ slack) | close codes | promised by |");
    println!("|---|---|---|---|---|---|---|");
    for (kind, k) in &t.kinds {
        let expect = kind.expect();
        let codes: Vec<String> =
            (0..64).filter(|b| load(&k.codes) & (1 << b) != 0).map(|b| (1000 + b).to_string()).collect();
        println!(
            "| {} | {} | {} | {:.1} s | {} s | {} | {} |",
            kind.name(),
            load(&k.cycles),
            load(&k.unavailable),
            load(&k.slowest_ms) as f64 / 1000.0,
            (expect.latest + args.slack).as_secs(),
            if codes.is_empty() { "-".into() } else { codes.join(" ") },
            expect.why
        );
        failures.extend(k.failures.list().into_iter().map(|f| format!("{}: {f}", kind.name())));
        if load(&k.cycles) == 0 {
            failures.push(format!("{}: never ran to its end", kind.name()));
        }
    }
    let accept_failures = load(&s.watch.accept_failures);
    println!(
        "descriptor hog: {} rounds, up to {} connections held, {} rounds until the server took no more; the server logged {} failed accepts",
        load(&t.hog.rounds),
        loadu(&t.hog.peak),
        load(&t.hog.filled),
        accept_failures
    );
    if accept_failures == 0 {
        failures.push("never ran out of descriptors (no failed accept logged)".into());
    }
    let deflate_slots = args.conns.div_ceil(8) as u64;
    let bound = s.base_rss_kib
        + loadu(&t.hostile_open.peak) as u64 * HOSTILE_KIB
        + loadu(&h.peak_open) as u64 * HONEST_KIB
        + deflate_slots * DEFLATE_KIB
        + 4 * loadu(&h.peak_in_flight) as u64 / 1024
        + loadu(&t.hog.peak) as u64 * HOG_KIB
        + SLACK_KIB;
    let peak = load(&s.watch.peak_rss_kib);
    println!(
        "memory: {:.1} MiB at start, peak {:.1} MiB ({:.0} KiB per connection), bound {:.1} MiB (at most {} hostile connections, {} well-behaved, {:.1} MB in flight), {:.1} MiB at the end",
        s.base_rss_kib as f64 / 1024.0,
        peak as f64 / 1024.0,
        peak.saturating_sub(s.base_rss_kib) as f64 / (loadu(&h.peak_open) + loadu(&t.hostile_open.peak)).max(1) as f64,
        bound as f64 / 1024.0,
        loadu(&t.hostile_open.peak),
        loadu(&h.peak_open),
        loadu(&h.peak_in_flight) as f64 / 1e6,
        s.rss_kib() as f64 / 1024.0
    );
    if peak > bound {
        failures.push(format!("resident memory peaked at {peak} KiB, above the bound of {bound} KiB"));
    }
    let fds = s.fds();
    println!("descriptors: {} at start, at most {}, {} at the end", s.base_fds, loadu(&s.watch.peak_fds), fds);
    if fds > s.base_fds {
        failures.push(format!("{} descriptors open at the end, {} at the start: a leak", fds, s.base_fds));
    }
    let f = &t.fresh;
    println!(
        "still serving: {} fresh connections, {} echoes checked, {} closed cleanly",
        load(&f.opened),
        load(&f.echoes),
        load(&f.closed_cleanly)
    );
    failures.extend(f.failures.list().into_iter().map(|e| format!("after the soak, {e}")));
    if load(&f.closed_cleanly) < 20 {
        failures
            .push(format!("after the soak, only {} of 20 fresh connections closed cleanly", load(&f.closed_cleanly)));
    }
    failures.extend(s.watch.panics.lock().unwrap().iter().map(|p| format!("panic: {p}")));
    failures
}
