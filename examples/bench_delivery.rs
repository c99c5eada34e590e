//! Load generator and disk probe for `scripts/bench-delivery` (a benchmark, not a test).
//!
//! `bench_delivery disk DIR SECONDS`: 4 KiB write + fsync operations per second on DIR's file
//! system, the ceiling of a server that syncs once per message.
//! `bench_delivery smtp ADDR MESSAGES SIZE CONNECTIONS`: delivers MESSAGES messages of SIZE bytes
//! over CONNECTIONS concurrent SMTP connections and prints the rate.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn usage() -> ! {
    eprintln!("usage: bench_delivery disk DIR SECONDS | smtp ADDR MESSAGES SIZE CONNECTIONS");
    std::process::exit(2)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize) -> T {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| usage())
}

fn disk(dir: &str, seconds: f64) -> std::io::Result<()> {
    let path = std::path::Path::new(dir).join("fsync-probe");
    let mut file = std::fs::File::create(&path)?;
    let block = vec![b'x'; 4096];
    let start = Instant::now();
    let mut ops = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        file.write_all(&block)?;
        file.sync_all()?;
        ops += 1;
    }
    let rate = ops as f64 / start.elapsed().as_secs_f64();
    drop(file);
    std::fs::remove_file(&path)?;
    println!("disk_fsync_ops_per_second {rate:.0}");
    Ok(())
}

fn message(size: usize, n: usize) -> Vec<u8> {
    let mut m = format!(
        "From: bench <bench@example.org>\r\nTo: mox@localhost\r\nSubject: benchmark message {n}\r\nMessage-ID: <bench-{n}@example.org>\r\n\r\n"
    )
    .into_bytes();
    let line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n";
    while m.len() + line.len() <= size {
        m.extend_from_slice(line);
    }
    m.extend(std::iter::repeat_n(b'x', size.saturating_sub(m.len() + 2)));
    m.extend_from_slice(b"\r\n");
    m
}

async fn expect(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    code: &str,
) -> std::io::Result<()> {
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::other("connection closed"));
        }
        if !line.starts_with(code) {
            return Err(std::io::Error::other(format!(
                "expected {code}, got {line:?}"
            )));
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

async fn connection(
    addr: String,
    next: Arc<AtomicUsize>,
    total: usize,
    size: usize,
) -> std::io::Result<usize> {
    let stream = TcpStream::connect(&addr).await?;
    stream.set_nodelay(true)?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    expect(&mut r, "220").await?;
    w.write_all(b"EHLO bench.example\r\n").await?;
    expect(&mut r, "250").await?;
    let mut sent = 0;
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= total {
            break;
        }
        let mut data =
            b"MAIL FROM:<bench@example.org>\r\nRCPT TO:<mox@localhost>\r\nDATA\r\n".to_vec();
        w.write_all(&data).await?;
        expect(&mut r, "250").await?;
        expect(&mut r, "250").await?;
        expect(&mut r, "354").await?;
        data = message(size, n);
        data.extend_from_slice(b".\r\n");
        w.write_all(&data).await?;
        expect(&mut r, "250").await?;
        sent += 1;
    }
    w.write_all(b"QUIT\r\n").await?;
    Ok(sent)
}

async fn smtp(addr: String, total: usize, size: usize, connections: usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(connection(addr.clone(), next.clone(), total, size)))
        .collect();
    let mut delivered = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(n)) => delivered += n,
            Ok(Err(e)) => eprintln!("connection failed: {e}"),
            Err(e) => eprintln!("task failed: {e}"),
        }
    }
    let elapsed = start.elapsed().max(Duration::from_micros(1)).as_secs_f64();
    println!("messages {delivered}");
    println!("seconds {elapsed:.3}");
    println!("messages_per_second {:.0}", delivered as f64 / elapsed);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match args.get(1).map(String::as_str) {
        Some("disk") => {
            if let Err(e) = disk(
                &args.get(2).cloned().unwrap_or_else(|| usage()),
                arg(&args, 3),
            ) {
                eprintln!("disk probe: {e}");
                std::process::exit(1);
            }
        }
        Some("smtp") => runtime.block_on(smtp(
            arg(&args, 2),
            arg(&args, 3),
            arg(&args, 4),
            arg(&args, 5),
        )),
        _ => usage(),
    }
}
