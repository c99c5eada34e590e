//! The Prometheus endpoint: `GET /metrics` on the loopback address of `[metrics] listen`,
//! answered in the text exposition format (version 0.0.4). A tiny HTTP/1.1 server: one request
//! per connection, a bounded request head, nothing else served.

use std::fmt::Write;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// Largest request head read.
const MAX_HEAD: usize = 8 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Every metric, in the text format.
pub fn render() -> String {
    let mut out = String::new();
    let counters: [(&str, &str, &str, u64); 13] = [
        (
            "moxide_connections_total",
            "counter",
            "Connections accepted.",
            CONNECTIONS.get(),
        ),
        (
            "moxide_open_connections",
            "gauge",
            "Connections open now.",
            OPEN_CONNECTIONS.get(),
        ),
        (
            "moxide_imap_sessions",
            "gauge",
            "IMAP sessions open now.",
            IMAP_SESSIONS.get(),
        ),
        (
            "moxide_deliveries_total",
            "counter",
            "Messages delivered into mailboxes.",
            DELIVERIES.get(),
        ),
        (
            "moxide_commits_total",
            "counter",
            "Account write transactions committed.",
            COMMITS.get(),
        ),
        (
            "moxide_committed_ops_total",
            "counter",
            "Operations in those transactions.",
            COMMITTED_OPS.get(),
        ),
        (
            "moxide_fsyncs_total",
            "counter",
            "fsync-like calls of the store.",
            FSYNCS.get(),
        ),
        (
            "moxide_queue_entries",
            "gauge",
            "Outgoing queue entries (one per recipient).",
            QUEUE_ENTRIES.get(),
        ),
        (
            "moxide_queue_attempts_total",
            "counter",
            "Outgoing delivery attempts, per recipient.",
            QUEUE_ATTEMPTS.get(),
        ),
        (
            "moxide_queue_delivered_total",
            "counter",
            "Recipients delivered to remote servers.",
            QUEUE_DELIVERED.get(),
        ),
        (
            "moxide_queue_failed_total",
            "counter",
            "Recipients bounced (failure DSN).",
            QUEUE_FAILED.get(),
        ),
        (
            "moxide_dsns_total",
            "counter",
            "Delivery status notifications sent.",
            DSNS.get(),
        ),
        (
            "moxide_uptime_seconds",
            "gauge",
            "Seconds since the metrics started.",
            started().elapsed().as_secs(),
        ),
    ];
    for (name, kind, help, value) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    let name = "moxide_smtp_rejects_total";
    let _ = writeln!(
        out,
        "# HELP {name} SMTP error replies sent, by reply and enhanced status code.\n# TYPE {name} counter"
    );
    for (reason, n) in smtp_rejects() {
        let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {n}");
    }
    COMMIT_BATCH.render(
        "moxide_commit_batch_ops",
        "Operations per account commit.",
        &mut out,
    );
    COMMIT_SECONDS.render(
        "moxide_commit_seconds",
        "Duration of account commits.",
        &mut out,
    );
    out
}

fn started() -> std::time::Instant {
    static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *STARTED.get_or_init(std::time::Instant::now)
}

/// Serves `listener` until the process ends.
pub async fn serve(listener: TcpListener) {
    started();
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(answer(stream));
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn answer(mut stream: TcpStream) {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let complete = tokio::time::timeout(READ_TIMEOUT, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
            if memchr::memmem::find(&head, b"\r\n\r\n").is_some() {
                return true;
            }
            if head.len() > MAX_HEAD {
                return false;
            }
        }
    })
    .await;
    if !matches!(complete, Ok(true)) {
        return;
    }
    let request_line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut parts = request_line.split(|b| *b == b' ');
    let (method, path) = (parts.next(), parts.next());
    let (status, body) = match (method, path) {
        (Some(b"GET"), Some(b"/metrics")) => ("200 OK", render()),
        (Some(b"GET"), _) => (
            "404 Not Found",
            "not found: metrics are at /metrics\n".into(),
        ),
        _ => ("405 Method Not Allowed", "only GET\n".into()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
