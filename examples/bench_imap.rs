//! IMAP load generator for `scripts/bench-imap` (a benchmark, not a test).
//!
//! `bench_imap fill ADDR MESSAGES`: appends MESSAGES messages to INBOX (MULTIAPPEND, 100 at a time).
//! `bench_imap run ADDR CLIENTS SECONDS`: CLIENTS concurrent sessions repeat SELECT, FETCH of
//! flags, FETCH of envelopes, SEARCH, STORE and UID FETCH CHANGEDSINCE for SECONDS, then the
//! operations per second and latency percentiles of each are printed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Client {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
    n: u64,
}

impl Client {
    async fn connect(addr: &str) -> Result<Client, Error> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        let (r, w) = s.into_split();
        let mut c = Client {
            r: BufReader::new(r),
            w,
            n: 0,
        };
        c.read_line().await?;
        c.command("LOGIN mox@localhost moxmoxmox").await?;
        Ok(c)
    }

    async fn read_line(&mut self) -> Result<Vec<u8>, Error> {
        let mut line = Vec::new();
        if self.r.read_until(b'\n', &mut line).await? == 0 {
            return Err("connection closed".into());
        }
        Ok(line)
    }

    /// Sends a command and reads to its tagged response; returns the response bytes.
    async fn command_bytes(&mut self, cmd: &[u8]) -> Result<Vec<u8>, Error> {
        self.n += 1;
        let tag = format!("b{}", self.n);
        let mut line = format!("{tag} ").into_bytes();
        line.extend_from_slice(cmd);
        line.extend_from_slice(b"\r\n");
        self.w.write_all(&line).await?;
        let mut all = Vec::new();
        loop {
            let line = self.read_line().await?;
            all.extend_from_slice(&line);
            // A literal follows a line ending in {n}.
            if let Some(n) = literal_size(&line) {
                let mut data = vec![0u8; n];
                self.r.read_exact(&mut data).await?;
                all.extend_from_slice(&data);
                continue;
            }
            if line.starts_with(tag.as_bytes()) {
                if !line[tag.len()..].starts_with(b" OK") {
                    return Err(format!(
                        "{}: {}",
                        String::from_utf8_lossy(cmd),
                        String::from_utf8_lossy(&line)
                    )
                    .into());
                }
                return Ok(all);
            }
        }
    }

    async fn command(&mut self, cmd: &str) -> Result<Vec<u8>, Error> {
        self.command_bytes(cmd.as_bytes()).await
    }
}

fn literal_size(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n")?.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&line[open + 1..]).ok()?.parse().ok()
}

fn message(i: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Sender {i} <sender{i}@example.org>\r\nTo: mox@localhost\r\nSubject: message number {i} about topic{}\r\nDate: Mon, 2 Jan 2023 10:00:00 +0000\r\nMessage-ID: <b{i}@example.org>\r\n\r\n",
        i % 50
    )
    .into_bytes();
    for _ in 0..20 {
        m.extend_from_slice(
            b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n",
        );
    }
    m
}

async fn fill(addr: &str, total: usize) -> Result<(), Error> {
    let mut c = Client::connect(addr).await?;
    let start = Instant::now();
    let mut i = 0;
    while i < total {
        let mut cmd = b"APPEND INBOX".to_vec();
        for _ in 0..100.min(total - i) {
            let m = message(i);
            let flags = if i % 3 == 0 { "(\\Seen) " } else { "" };
            cmd.extend_from_slice(format!(" {flags}{{{}+}}\r\n", m.len()).as_bytes());
            cmd.extend_from_slice(&m);
            i += 1;
        }
        c.command_bytes(&cmd).await?;
    }
    println!(
        "filled {total} messages in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One client's loop: each operation timed.
async fn client(
    addr: String,
    until: Instant,
    seed: u64,
) -> Result<BTreeMap<&'static str, Vec<Duration>>, Error> {
    let mut c = Client::connect(&addr).await?;
    let mut times: BTreeMap<&'static str, Vec<Duration>> = BTreeMap::new();
    let mut rng = seed | 1;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n.max(1)
    };
    let mut exists = 0u64;
    let mut highest = 1u64;
    while Instant::now() < until {
        let t = Instant::now();
        let r = c.command("SELECT INBOX (CONDSTORE)").await?;
        times.entry("select").or_default().push(t.elapsed());
        let text = String::from_utf8_lossy(&r);
        for line in text.lines() {
            if let Some(n) = line
                .strip_prefix("* ")
                .and_then(|l| l.strip_suffix(" EXISTS"))
            {
                exists = n.parse().unwrap_or(0);
            }
            if let Some(rest) = line.split("[HIGHESTMODSEQ ").nth(1) {
                highest = rest
                    .split(']')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
            }
        }
        let ops: [(&'static str, String); 6] = [
            ("fetch_flags_all", "FETCH 1:* (UID FLAGS)".to_string()),
            ("fetch_envelope_100", {
                let start = 1 + next(exists.saturating_sub(100));
                format!("FETCH {start}:{} (UID ENVELOPE)", start + 99)
            }),
            ("search_unseen", "UID SEARCH UNSEEN".to_string()),
            (
                "search_subject",
                format!("UID SEARCH SUBJECT \"topic{}\"", next(50)),
            ),
            (
                "store",
                format!(
                    "STORE {} FLAGS (\\Seen $Label{})",
                    1 + next(exists),
                    next(5)
                ),
            ),
            (
                "fetch_changedsince",
                format!(
                    "UID FETCH 1:* (FLAGS) (CHANGEDSINCE {})",
                    highest.saturating_sub(50)
                ),
            ),
        ];
        for (name, cmd) in ops {
            let t = Instant::now();
            c.command(&cmd).await?;
            times.entry(name).or_default().push(t.elapsed());
            if Instant::now() >= until {
                break;
            }
        }
    }
    c.command("LOGOUT").await.ok();
    Ok(times)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

async fn run(addr: String, clients: usize, seconds: f64) -> Result<(), Error> {
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| tokio::spawn(client(addr.clone(), until, 0x9e37_79b9 * (i as u64 + 1))))
        .collect();
    let mut all: BTreeMap<&'static str, Vec<Duration>> = BTreeMap::new();
    for t in tasks {
        for (name, mut times) in t.await?? {
            all.entry(name).or_default().append(&mut times);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "{:<20} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "operation", "count", "ops/s", "p50 ms", "p90 ms", "p99 ms"
    );
    let mut total = 0;
    for (name, mut times) in all {
        times.sort();
        total += times.len();
        println!(
            "{name:<20} {:>8} {:>9.1} {:>9.2} {:>9.2} {:>9.2}",
            times.len(),
            times.len() as f64 / elapsed,
            percentile(&times, 0.5),
            percentile(&times, 0.9),
            percentile(&times, 0.99)
        );
    }
    println!("all_operations_per_second {:.1}", total as f64 / elapsed);
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let result = match arg(1).as_str() {
        "fill" => runtime.block_on(fill(&arg(2), arg(3).parse().unwrap_or(10_000))),
        "run" => runtime.block_on(run(
            arg(2),
            arg(3).parse().unwrap_or(10),
            arg(4).parse().unwrap_or(20.0),
        )),
        _ => {
            eprintln!("usage: bench_imap fill ADDR MESSAGES | run ADDR CLIENTS SECONDS");
            std::process::exit(2)
        }
    };
    if let Err(e) = result {
        eprintln!("bench_imap: {e}");
        std::process::exit(1);
    }
}
