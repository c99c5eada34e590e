//! One delivery attempt for queue entries of one message to one domain, through a transport:
//! find the hosts (MX for direct and SOCKS delivery, the relay otherwise), dial them in order
//! until one takes the transaction, and say what became of each recipient.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mail_auth::MessageAuthenticator;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::dsn::status_of;
use super::mx;
use crate::address::Address;
use crate::config::transports::{RelayAuth, RelayTls, Transport, Trust};
use crate::protocols::sasl::client::ClientCredentials;
use crate::protocols::smtp::client::{
    AuthOptions, Client, ClientError, Envelope, Message, SYSTEM_ROOTS, Step, Timeouts, TlsConfig,
    load_roots,
};
use crate::store::queue::QueueEntry;

/// Dialing one address gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a recipient was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Asking again will not help: bounce now.
    pub permanent: bool,
    /// The host that answered, when one did.
    pub remote: Option<String>,
    /// Its reply, `550 5.1.1 no such user`, when the failure was one.
    pub reply: Option<String>,
    pub status: (u8, u16, u16),
    /// For logs, `queue list` and the DSN: `mx.example.org: 451 4.7.1 greylisted (after RCPT)`.
    pub text: String,
}

impl Failure {
    fn local(permanent: bool, text: String) -> Failure {
        Failure {
            permanent,
            remote: None,
            reply: None,
            status: if permanent { (5, 0, 0) } else { (4, 0, 0) },
            text,
        }
    }

    fn from_client(host: &str, e: &ClientError) -> Failure {
        let reply = e.reply().map(|r| {
            let mut text = r.code.to_string();
            if let Some((c, s, d)) = r.status {
                text.push_str(&format!(" {c}.{s}.{d}"));
            }
            for line in &r.lines {
                text.push(' ');
                text.push_str(line);
            }
            text
        });
        let permanent = e.is_permanent();
        let status = match (&reply, e.reply()) {
            (Some(text), Some(r)) => status_of(Some(r.code), text, permanent),
            _ if permanent => (5, 0, 0),
            _ => (4, 0, 0),
        };
        Failure {
            permanent,
            remote: Some(host.to_string()),
            reply,
            status,
            text: format!("{host}: {e}"),
        }
    }
}

/// What became of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptResult {
    Delivered { remote: String },
    Failed(Failure),
}

/// What an attempt needs from the server.
pub struct Context<'a> {
    /// Our host name, for EHLO.
    pub hostname: &'a str,
    pub resolver: Option<&'a MessageAuthenticator>,
    /// Where the queued messages' files are.
    pub queue: &'a crate::store::queue::QueueStore,
    pub timeouts: Timeouts,
}

/// How many transactions one connection carries at most.
const MAX_TRANSACTIONS_PER_CONNECTION: usize = 100;

/// Further messages for a connection that just delivered one, to the same destination through
/// the same transport: `next_batch` gets the results of the batch it was given last (or of the
/// first one) and answers the next batch, if any.
pub trait Batches: Send {
    fn next_batch(
        &mut self,
        results: Vec<RcptResult>,
    ) -> futures_util::future::BoxFuture<'_, Option<Vec<QueueEntry>>>;
}

/// A connection of any kind (TCP, or through a SOCKS proxy).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}
type BoxStream = Box<dyn Stream>;

/// How a session is set up once connected.
struct Session<'a> {
    ehlo: &'a str,
    /// TLS before anything (port 465).
    implicit_tls: Option<TlsConfig>,
    /// STARTTLS when offered; `required`: fail without it.
    starttls: Option<(TlsConfig, bool)>,
    auth: Option<&'a RelayAuth>,
}

/// Delivers `entries` (one message, one recipient domain) through `transport`. The connection
/// that takes them then carries the further batches `batches` hands out. Returns the results of
/// the last batch, one per entry in order (those of earlier batches went to `batches`; empty
/// when `batches` had nothing more).
pub async fn deliver(
    ctx: &Context<'_>,
    transport: &Transport,
    entries: &[QueueEntry],
    batches: &mut dyn Batches,
) -> Vec<RcptResult> {
    let all = |f: Failure| vec![RcptResult::Failed(f); entries.len()];
    let requiretls = entries.iter().any(|e| e.requiretls == Some(true));
    match transport {
        Transport::Direct | Transport::Socks { .. } => {
            let (proxy, ehlo) = match transport {
                Transport::Socks {
                    proxy,
                    remote_hostname,
                    ..
                } => (Some(*proxy), remote_hostname.ascii()),
                _ => (None, ctx.hostname),
            };
            let Some(resolver) = ctx.resolver else {
                return all(Failure::local(
                    false,
                    "no DNS resolver for MX lookups (localserve without [dns])".into(),
                ));
            };
            let domain = &entries[0].recipient_domain_ascii;
            let hosts = match mx::mail_hosts(resolver, domain).await {
                Ok(h) => h,
                Err(e) => return all(Failure::local(e.is_permanent(), e.to_string())),
            };
            let tls = match opportunistic(requiretls) {
                Ok(t) => t,
                Err(f) => return all(f),
            };
            let session = Session {
                ehlo,
                implicit_tls: None,
                starttls: Some((tls, requiretls)),
                auth: None,
            };
            let mut last = Failure::local(false, format!("no mail host for {domain}"));
            let mut dialed: Vec<IpAddr> = Vec::new();
            for host in &hosts {
                let ips = match mx::host_ips(resolver, host).await {
                    Ok(ips) => ips,
                    Err(e) => {
                        last = Failure::local(false, e.to_string());
                        continue;
                    }
                };
                for ip in ips {
                    dialed.push(ip);
                    let target = SocketAddr::new(ip, 25);
                    let stream = match connect(target, proxy).await {
                        Ok(s) => s,
                        Err(text) => {
                            last = Failure::local(false, format!("{host} ({ip}): {text}"));
                            continue;
                        }
                    };
                    match transaction(ctx, stream, host, &session, entries, batches).await {
                        Ok(results) => return results,
                        Err(f) => last = f,
                    }
                }
            }
            tracing::debug!(domain = %domain, dialed = ?dialed, "no host took the message");
            all(last)
        }
        Transport::Relay {
            host,
            port,
            tls,
            auth,
        } => {
            let session = match relay_session(ctx.hostname, tls, auth.as_ref(), requiretls) {
                Ok(s) => s,
                Err(f) => return all(f),
            };
            let ips = match relay_ips(ctx.resolver, host).await {
                Ok(ips) => ips,
                Err(e) => return all(Failure::local(false, e)),
            };
            let mut last = Failure::local(false, format!("{host}: no address"));
            for ip in ips {
                let stream = match connect(SocketAddr::new(ip, *port), None).await {
                    Ok(s) => s,
                    Err(text) => {
                        last = Failure::local(false, format!("{host} ({ip}): {text}"));
                        continue;
                    }
                };
                match transaction(ctx, stream, host, &session, entries, batches).await {
                    Ok(results) => return results,
                    Err(f) => last = f,
                }
            }
            all(last)
        }
    }
}

/// Opportunistic TLS for direct delivery: any certificate, unless REQUIRETLS asks for a
/// verified one.
fn opportunistic(requiretls: bool) -> Result<TlsConfig, Failure> {
    if requiretls {
        return tls_config(&Trust::System);
    }
    static ANY: std::sync::OnceLock<Result<TlsConfig, String>> = std::sync::OnceLock::new();
    ANY.get_or_init(|| TlsConfig::opportunistic().map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| Failure::local(false, format!("TLS setup: {e}")))
}

fn tls_config(trust: &Trust) -> Result<TlsConfig, Failure> {
    let verified = |path: &std::path::Path| {
        load_roots(path)
            .and_then(TlsConfig::verified)
            .map_err(|e| e.to_string())
    };
    let config = match trust {
        Trust::Any => TlsConfig::opportunistic().map_err(|e| e.to_string()),
        Trust::System => verified(std::path::Path::new(SYSTEM_ROOTS)),
        Trust::CaFile(path) => verified(path),
    };
    config.map_err(|e| Failure::local(false, format!("TLS setup: {e}")))
}

fn relay_session<'a>(
    ehlo: &'a str,
    tls: &RelayTls,
    auth: Option<&'a RelayAuth>,
    requiretls: bool,
) -> Result<Session<'a>, Failure> {
    let (implicit_tls, starttls) = match tls {
        RelayTls::None if requiretls => {
            return Err(Failure::local(
                true,
                "REQUIRETLS: the route's transport does not use TLS".into(),
            ));
        }
        RelayTls::None => (None, None),
        RelayTls::Opportunistic => (None, Some((opportunistic(requiretls)?, requiretls))),
        RelayTls::StartTls(trust) => (None, Some((tls_config(trust)?, true))),
        RelayTls::Implicit(trust) => (Some(tls_config(trust)?), None),
    };
    Ok(Session {
        ehlo,
        implicit_tls,
        starttls,
        auth,
    })
}

/// The relay's addresses: through the server's resolver, or the system's when it has none
/// (localserve).
async fn relay_ips(
    resolver: Option<&MessageAuthenticator>,
    host: &str,
) -> Result<Vec<IpAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    match resolver {
        Some(r) => mx::host_ips(r, host).await.map_err(|e| e.to_string()),
        None => tokio::net::lookup_host((host, 0))
            .await
            .map(|addrs| addrs.map(|a| a.ip()).collect())
            .map_err(|e| format!("resolving {host}: {e}")),
    }
}

async fn connect(target: SocketAddr, proxy: Option<SocketAddr>) -> Result<BoxStream, String> {
    match proxy {
        None => match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await {
            Ok(Ok(s)) => Ok(Box::new(s)),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("connection timed out".into()),
        },
        Some(proxy) => {
            let mut config = fast_socks5::client::Config::default();
            config.set_connect_timeout(CONNECT_TIMEOUT);
            let connected = fast_socks5::client::Socks5Stream::connect(
                proxy,
                target.ip().to_string(),
                target.port(),
                config,
            );
            match tokio::time::timeout(CONNECT_TIMEOUT, connected).await {
                Ok(Ok(s)) => Ok(Box::new(s)),
                Ok(Err(e)) => Err(format!("through SOCKS proxy {proxy}: {e}")),
                Err(_) => Err(format!("through SOCKS proxy {proxy}: timed out")),
            }
        }
    }
}

/// One connection: greeting, EHLO, TLS, AUTH, the transaction, then further batches while the
/// connection stays usable, QUIT. Ok with the last batch's results once the server took the
/// first transaction; Err when this host could not (another may).
async fn transaction(
    ctx: &Context<'_>,
    stream: BoxStream,
    host: &str,
    session: &Session<'_>,
    entries: &[QueueEntry],
    batches: &mut dyn Batches,
) -> Result<Vec<RcptResult>, Failure> {
    let fail = |e: ClientError| Failure::from_client(host, &e);
    let mut client = match &session.implicit_tls {
        Some(tls) => Client::connect_tls(stream, tls, host, ctx.timeouts).await,
        None => Client::connect(stream, ctx.timeouts).await,
    }
    .map_err(fail)?;
    client.ehlo(session.ehlo).await.map_err(fail)?;
    if let Some((tls, required)) = &session.starttls {
        if client.capabilities().starttls {
            client.starttls(tls, host).await.map_err(fail)?;
        } else if *required {
            return Err(Failure::local(
                false,
                format!("{host}: STARTTLS required but not offered"),
            ));
        }
    }
    if let Some(auth) = session.auth {
        let credentials = ClientCredentials {
            authzid: None,
            username: auth.username.clone(),
            password: auth.password.clone(),
        };
        let options = AuthOptions {
            mechanisms: (!auth.mechanisms.is_empty()).then(|| auth.mechanisms.clone()),
            allow_plaintext: false,
        };
        match client.auth(&credentials, &options).await {
            Ok(mechanism) => {
                tracing::info!(host, mechanism = mechanism.name(), "authenticated to relay");
            }
            Err(e) => {
                // A wrong password is the operator's to fix, not a reason to bounce.
                let mut f = fail(e);
                f.permanent = false;
                f.status = (4, 7, 0);
                return Err(f);
            }
        }
    }
    let mut results = send_batch(ctx, &mut client, host, entries).await?;
    // The same connection takes more messages for this destination while it is good.
    let mut sent = 1;
    while client.is_usable() && sent < MAX_TRANSACTIONS_PER_CONNECTION {
        let Some(next) = batches.next_batch(std::mem::take(&mut results)).await else {
            client.quit().await;
            return Ok(Vec::new());
        };
        results = match send_batch(ctx, &mut client, host, &next).await {
            Ok(r) => r,
            Err(f) => vec![RcptResult::Failed(f); next.len()],
        };
        sent += 1;
    }
    client.quit().await;
    Ok(results)
}

/// One transaction on an open connection. Err: the connection failed before any recipient
/// had an answer.
async fn send_batch(
    ctx: &Context<'_>,
    client: &mut Client<BoxStream>,
    host: &str,
    entries: &[QueueEntry],
) -> Result<Vec<RcptResult>, Failure> {
    let fail = |e: ClientError| Failure::from_client(host, &e);
    let first = &entries[0];
    let parse = |text: &str| Address::parse_simple(text);
    let mail_from = if first.mail_from.is_empty() {
        None
    } else {
        Some(parse(&first.mail_from).map_err(|e| {
            Failure::local(true, format!("invalid sender {:?}: {e}", first.mail_from))
        })?)
    };
    let mut recipients = Vec::with_capacity(entries.len());
    for e in entries {
        recipients.push(parse(&e.recipient).map_err(|err| {
            Failure::local(true, format!("invalid recipient {:?}: {err}", e.recipient))
        })?);
    }
    let envelope = Envelope {
        mail_from,
        recipients,
        smtputf8: entries.iter().any(|e| e.smtputf8),
        requiretls: entries.iter().any(|e| e.requiretls == Some(true)),
        eight_bit: true,
    };
    let path = ctx.queue.file_path(first.file);
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| Failure::local(false, format!("opening {}: {e}", path.display())))?;
    let message = Message {
        prefix: &first.prefix,
        body: &mut file,
        body_size: first.size.saturating_sub(first.prefix.len() as u64),
    };
    let results = match client.send(&envelope, message).await {
        Ok(r) => r,
        Err(e) if e.is_permanent() || e.step() == Some(Step::Mail) => {
            // Refused as a whole by a server that took the connection: the same for everyone.
            return Ok(vec![RcptResult::Failed(fail(e)); entries.len()]);
        }
        Err(e) => return Err(fail(e)),
    };
    Ok(results
        .into_iter()
        .map(|r| match r.result {
            Ok(_) => RcptResult::Delivered {
                remote: host.to_string(),
            },
            Err(e) => RcptResult::Failed(fail(e)),
        })
        .collect())
}
