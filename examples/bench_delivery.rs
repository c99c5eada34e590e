//! Load generator and disk probe for `scripts/bench-delivery` (a benchmark, not a test).
//!
//! `bench_delivery disk DIR SECONDS`: 4 KiB write + fsync operations per second on DIR's file
//! system, the ceiling of a server that syncs once per message.
//! `bench_delivery smtp ADDR MESSAGES SIZE CONNECTIONS [tls=CERT] [dkim=KEY,DOMAIN,SELECTOR]`:
//! delivers MESSAGES messages of SIZE bytes over CONNECTIONS concurrent SMTP connections and
//! prints the rate. With `tls=`, each connection does STARTTLS first, trusting the certificate
//! in CERT (PEM). With `dkim=`, every message carries a DKIM signature made with the private key
//! in KEY (PEM, PKCS#8 ed25519 or RSA) beforehand, so the server has a signature to verify.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn usage() -> ! {
    eprintln!(
        "usage: bench_delivery disk DIR SECONDS | smtp ADDR MESSAGES SIZE CONNECTIONS [tls=CERT] [dkim=KEY,DOMAIN,SELECTOR]"
    );
    std::process::exit(2)
}

fn fail(what: impl std::fmt::Display) -> ! {
    eprintln!("bench_delivery: {what}");
    std::process::exit(1)
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

/// Reads one reply (all its lines) and checks its code.
async fn expect<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
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

/// Sends messages until none are left, on an established session.
async fn transactions<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    next: &AtomicUsize,
    messages: &[Vec<u8>],
) -> std::io::Result<usize> {
    let mut sent = 0;
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let Some(message) = messages.get(n) else {
            break;
        };
        stream
            .get_mut()
            .write_all(b"MAIL FROM:<bench@example.org>\r\nRCPT TO:<mox@localhost>\r\nDATA\r\n")
            .await?;
        expect(stream, "250").await?;
        expect(stream, "250").await?;
        expect(stream, "354").await?;
        stream.get_mut().write_all(message).await?;
        expect(stream, "250").await?;
        sent += 1;
    }
    stream.get_mut().write_all(b"QUIT\r\n").await?;
    Ok(sent)
}

async fn connection(
    addr: String,
    next: Arc<AtomicUsize>,
    messages: Arc<Vec<Vec<u8>>>,
    tls: Option<tokio_rustls::TlsConnector>,
) -> std::io::Result<usize> {
    let stream = TcpStream::connect(&addr).await?;
    stream.set_nodelay(true)?;
    let mut stream = BufReader::new(stream);
    expect(&mut stream, "220").await?;
    stream
        .get_mut()
        .write_all(b"EHLO bench.example.org\r\n")
        .await?;
    expect(&mut stream, "250").await?;
    let Some(tls) = tls else {
        return transactions(&mut stream, &next, &messages).await;
    };
    stream.get_mut().write_all(b"STARTTLS\r\n").await?;
    expect(&mut stream, "220").await?;
    let name =
        rustls::pki_types::ServerName::try_from("localhost").map_err(std::io::Error::other)?;
    let tls_stream = tls.connect(name, stream.into_inner()).await?;
    let mut stream = BufReader::new(tls_stream);
    stream
        .get_mut()
        .write_all(b"EHLO bench.example.org\r\n")
        .await?;
    expect(&mut stream, "250").await?;
    transactions(&mut stream, &next, &messages).await
}

/// The TLS client, trusting only the certificate in `cert`.
fn tls_connector(cert: &str) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).unwrap_or_else(|e| fail(format!("{cert}: {e}"))) {
        let c = c.unwrap_or_else(|e| fail(format!("{cert}: {e}")));
        roots
            .add(c)
            .unwrap_or_else(|e| fail(format!("{cert}: {e}")));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap_or_else(|e| fail(e))
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Makes the DKIM-Signature header field for a message.
type Signer = Box<dyn Fn(&[u8]) -> Vec<u8>>;

/// DKIM-Signature header fields for messages, from a PEM key: ed25519 or RSA.
fn dkim_signer(spec: &str) -> Signer {
    use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
    use mail_auth::common::headers::HeaderWriter;
    use mail_auth::dkim::DkimSigner;
    use rustls::pki_types::{PrivateKeyDer, pem::PemObject};
    let mut parts = spec.split(',');
    let (Some(key), Some(domain), Some(selector)) = (parts.next(), parts.next(), parts.next())
    else {
        usage()
    };
    let der = PrivateKeyDer::from_pem_file(key).unwrap_or_else(|e| fail(format!("{key}: {e}")));
    let headers = ["From", "To", "Subject", "Message-ID"];
    let sign_with = |signature: mail_auth::Result<mail_auth::dkim::Signature>| {
        signature
            .unwrap_or_else(|e| fail(format!("signing: {e}")))
            .to_header()
            .into_bytes()
    };
    if let Ok(ed) = Ed25519Key::from_pkcs8_maybe_unchecked_der(der.secret_der()) {
        let signer = DkimSigner::from_key(ed)
            .domain(domain)
            .selector(selector)
            .headers(headers);
        return Box::new(move |m: &[u8]| sign_with(signer.sign(m)));
    }
    match RsaKey::<Sha256>::from_key_der(der.clone_key()) {
        Ok(rsa) => {
            let signer = DkimSigner::from_key(rsa)
                .domain(domain)
                .selector(selector)
                .headers(headers);
            Box::new(move |m: &[u8]| sign_with(signer.sign(m)))
        }
        Err(_) => fail(format!("{key}: not an ed25519 or RSA key")),
    }
}

async fn smtp(addr: String, total: usize, size: usize, connections: usize, options: &[String]) {
    let mut tls = None;
    let mut sign: Option<Signer> = None;
    for o in options {
        match o.split_once('=') {
            Some(("tls", cert)) => tls = Some(tls_connector(cert)),
            Some(("dkim", spec)) => sign = Some(dkim_signer(spec)),
            _ => usage(),
        }
    }
    // Messages are made (and signed) before the clock starts: the client's work is not the
    // server's.
    let messages: Vec<Vec<u8>> = (0..total)
        .map(|n| {
            let m = message(size, n);
            let mut data = sign.as_ref().map(|s| s(&m)).unwrap_or_default();
            data.extend_from_slice(&m);
            data.extend_from_slice(b".\r\n");
            data
        })
        .collect();
    let messages = Arc::new(messages);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(connection(
                addr.clone(),
                next.clone(),
                messages.clone(),
                tls.clone(),
            ))
        })
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
            args.get(6..).unwrap_or_default(),
        )),
        _ => usage(),
    }
}
