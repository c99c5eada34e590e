//! Submitting the message to the configured server with the SMTP client: connect, TLS
//! (implicit or STARTTLS), EHLO, AUTH, one transaction, QUIT.

use std::time::Duration;

use tokio::net::TcpStream;

use super::config::{SendmailConfig, TlsMode};
use crate::protocols::smtp::Reply;
use crate::protocols::smtp::client::{
    AuthOptions, Client, ClientError, Envelope, Message, RcptResult, Refusal, SYSTEM_ROOTS,
    Timeouts, TlsConfig, TlsConfigError, load_roots,
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why nothing was submitted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("connecting to {host} port {port}: {error}")]
    Connect {
        host: String,
        port: u16,
        error: std::io::Error,
    },
    #[error("connecting to {host} port {port}: timeout")]
    ConnectTimeout { host: String, port: u16 },
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    TlsConfig(#[from] TlsConfigError),
    #[error(transparent)]
    Smtp(#[from] ClientError),
}

impl SubmitError {
    /// Whether trying again later cannot help: a 5xx (such as 535 for a wrong password), or
    /// no way to authenticate or protect the connection as configured.
    pub fn is_permanent(&self) -> bool {
        match self {
            SubmitError::Connect { .. }
            | SubmitError::ConnectTimeout { .. }
            | SubmitError::Runtime(_) => false,
            SubmitError::TlsConfig(_) => true,
            SubmitError::Smtp(e) => {
                e.is_permanent()
                    || matches!(
                        e,
                        ClientError::Refused {
                            reason: Refusal::NoAuthMechanism | Refusal::TlsNotOffered,
                            ..
                        }
                    )
            }
        }
    }
}

/// Prints the conversation's steps on stderr with `-v`.
pub struct Verbose(pub bool);

impl Verbose {
    pub fn say(&self, what: impl std::fmt::Display) {
        if self.0 {
            eprintln!("sendmail: {what}");
        }
    }
}

/// Submits `message` (CRLF, complete) for `envelope`: the result of each recipient, or why
/// none was tried.
pub async fn submit(
    config: &SendmailConfig,
    ehlo_name: &str,
    envelope: &Envelope,
    message: &[u8],
    verbose: &Verbose,
) -> Result<Vec<RcptResult>, SubmitError> {
    let (host, port) = (config.host.as_str(), config.port);
    verbose.say(format_args!("connecting to {host} port {port}"));
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port))).await
    {
        Ok(Ok(s)) => s,
        Ok(Err(error)) => {
            return Err(SubmitError::Connect {
                host: host.to_string(),
                port,
                error,
            });
        }
        Err(_) => {
            return Err(SubmitError::ConnectTimeout {
                host: host.to_string(),
                port,
            });
        }
    };
    let timeouts = Timeouts::default();
    let mut client = match config.tls {
        TlsMode::Tls => {
            let tls = tls_config(config)?;
            let mut c = Client::connect_tls(stream, &tls, host, timeouts).await?;
            verbose.say(format_args!("TLS established, {}", text(c.greeting())));
            c.ehlo(ehlo_name).await?;
            c
        }
        TlsMode::Starttls => {
            let mut c = Client::connect(stream, timeouts).await?;
            verbose.say(text(c.greeting()));
            c.ehlo(ehlo_name).await?;
            // Refused when not offered: credentials and message never go in plain text.
            c.starttls(&tls_config(config)?, host).await?;
            verbose.say("STARTTLS done");
            c
        }
        TlsMode::None => {
            let mut c = Client::connect(stream, timeouts).await?;
            verbose.say(text(c.greeting()));
            c.ehlo(ehlo_name).await?;
            c
        }
    };
    if let Some(credentials) = &config.credentials {
        let options = AuthOptions {
            mechanisms: config.mechanisms.clone(),
            allow_plaintext: false,
        };
        let mechanism = client.auth(credentials, &options).await?;
        verbose.say(format_args!("authenticated with {}", mechanism.name()));
    }
    let mut body = message;
    let results = client
        .send(
            envelope,
            Message {
                prefix: &[],
                body: &mut body,
                body_size: message.len() as u64,
            },
        )
        .await?;
    for r in &results {
        match &r.result {
            Ok(reply) => verbose.say(format_args!("{}: {}", r.address, text(reply))),
            Err(e) => verbose.say(format_args!("{}: {e}", r.address)),
        }
    }
    client.quit().await;
    Ok(results)
}

fn tls_config(config: &SendmailConfig) -> Result<TlsConfig, TlsConfigError> {
    if config.no_verify_tls {
        return TlsConfig::opportunistic();
    }
    let roots = match &config.ca_file {
        Some(path) => load_roots(path)?,
        None => load_roots(std::path::Path::new(SYSTEM_ROOTS))?,
    };
    TlsConfig::verified(roots)
}

/// A reply on one line, control characters replaced.
fn text(reply: &Reply) -> String {
    let mut s = reply.code.to_string();
    for line in &reply.lines {
        s.push(' ');
        s.extend(
            line.trim()
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c }),
        );
    }
    s
}
