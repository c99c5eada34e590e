//! What can go wrong talking to a server, and at which step: the queue decides retry or bounce
//! from [`ClientError::is_permanent`] and shows the Display text as the last error.

use std::fmt;
use std::sync::Arc;

use super::reply::ReplyError;
use crate::protocols::sasl::SaslError;
use crate::protocols::smtp::Reply;

/// Where in the conversation an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Greeting,
    Ehlo,
    StartTls,
    /// The TLS handshake (after STARTTLS, or at connect for implicit TLS).
    Tls,
    Auth,
    Rset,
    Mail,
    Rcpt,
    Data,
    Bdat,
    /// The end of the message: the reply to `.` or to `BDAT n LAST`.
    Dot,
    Quit,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Greeting => "in greeting",
            Step::Ehlo => "after EHLO",
            Step::StartTls => "after STARTTLS",
            Step::Tls => "in TLS handshake",
            Step::Auth => "after AUTH",
            Step::Rset => "after RSET",
            Step::Mail => "after MAIL",
            Step::Rcpt => "after RCPT",
            Step::Data => "after DATA",
            Step::Bdat => "after BDAT",
            Step::Dot => "after end of data",
            Step::Quit => "after QUIT",
        })
    }
}

/// Why we refused to go on without asking the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The message is larger than the server's announced SIZE (RFC 1870 §6).
    TooLarge { size: u64, limit: u64 },
    /// The message needs SMTPUTF8 and the server does not offer it (RFC 6531 §3.4).
    Smtputf8,
    /// The message needs REQUIRETLS and the server does not offer it, or the connection is not
    /// TLS (RFC 8689 §4.1).
    RequireTls,
    /// TLS was required and the server does not offer STARTTLS.
    TlsNotOffered,
    /// AUTH was asked for and the server offers no mechanism we may use.
    NoAuthMechanism,
    /// No recipients were given.
    NoRecipients,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::TooLarge { size, limit } => write!(
                f,
                "message of {size} bytes larger than the server's limit of {limit}"
            ),
            Refusal::Smtputf8 => f.write_str("message needs SMTPUTF8, server does not offer it"),
            Refusal::RequireTls => {
                f.write_str("message needs REQUIRETLS, server does not offer it")
            }
            Refusal::TlsNotOffered => f.write_str("TLS required, server does not offer STARTTLS"),
            Refusal::NoAuthMechanism => {
                f.write_str("no authentication mechanism in common with the server")
            }
            Refusal::NoRecipients => f.write_str("no recipients"),
        }
    }
}

/// An error of the client. Cheap to clone: one error can apply to many recipients.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// Reading or writing the connection failed.
    #[error("connection error {step}: {error}")]
    Io {
        step: Step,
        error: Arc<std::io::Error>,
    },
    /// The server closed the connection.
    #[error("connection closed by server {step}")]
    Closed { step: Step },
    #[error("timeout {step}")]
    Timeout { step: Step },
    /// The server sent something that is not SMTP.
    #[error("protocol error {step}: {error}")]
    Protocol { step: Step, error: ProtocolError },
    /// The server answered with an error (or unexpected) reply.
    #[error("{} ({step})", ReplyText(.reply))]
    Reply { step: Step, reply: Reply },
    #[error("TLS handshake: {0}")]
    Tls(Arc<std::io::Error>),
    /// The SASL exchange broke down on our side (e.g. the server did not prove it knows the
    /// password); the reply, if any, is the server's answer to our cancel.
    #[error("authentication: {error}")]
    Sasl { error: SaslError },
    /// We did not send what the server would have had to refuse.
    #[error("{reason} ({step})")]
    Refused { step: Step, reason: Refusal },
    /// Reading the message to send failed (ours, not the server's); the connection is left
    /// in the middle of the data and unusable.
    #[error("reading the message: {0}")]
    Message(Arc<std::io::Error>),
    /// The caller used the client out of order (a bug).
    #[error("client used out of order: {0}")]
    Usage(&'static str),
    /// The connection was broken by an earlier error; open a new one.
    #[error("connection unusable after an earlier error")]
    Unusable,
}

/// Not SMTP from the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error(transparent)]
    Reply(#[from] ReplyError),
    #[error("unexpected reply {0}")]
    Unexpected(u16),
    #[error("server sent data before the TLS handshake")]
    DataBeforeTls,
    #[error("invalid base64 in challenge")]
    Base64,
}

impl ClientError {
    /// A 5xx reply, or a refusal that asking again will not change: bounce. Everything else
    /// (4xx, connection trouble, garbage, TLS) is worth another try later.
    pub fn is_permanent(&self) -> bool {
        match self {
            ClientError::Reply { reply, .. } => reply.code >= 500,
            ClientError::Refused { reason, .. } => matches!(
                reason,
                Refusal::TooLarge { .. }
                    | Refusal::Smtputf8
                    | Refusal::RequireTls
                    | Refusal::NoRecipients
            ),
            _ => false,
        }
    }

    /// The server's reply, when the error is one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            ClientError::Reply { reply, .. } => Some(reply),
            _ => None,
        }
    }

    pub fn step(&self) -> Option<Step> {
        match self {
            ClientError::Io { step, .. }
            | ClientError::Closed { step }
            | ClientError::Timeout { step }
            | ClientError::Protocol { step, .. }
            | ClientError::Reply { step, .. }
            | ClientError::Refused { step, .. } => Some(*step),
            ClientError::Tls(_) => Some(Step::Tls),
            ClientError::Sasl { .. } => Some(Step::Auth),
            ClientError::Message(_) | ClientError::Usage(_) | ClientError::Unusable => None,
        }
    }

    /// Whether the connection can go on after this error (an RSET and another transaction).
    pub fn keeps_connection(&self) -> bool {
        matches!(
            self,
            ClientError::Reply { .. } | ClientError::Refused { .. } | ClientError::Usage(_)
        )
    }

    pub(crate) fn io(step: Step, error: std::io::Error) -> ClientError {
        ClientError::Io {
            step,
            error: Arc::new(error),
        }
    }
}

/// A reply on one line for error texts: `451 4.7.1 greylisted, try again`.
struct ReplyText<'a>(&'a Reply);

impl fmt::Display for ReplyText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        write!(f, "{}", r.code)?;
        if let Some((a, b, c)) = r.status {
            write!(f, " {a}.{b}.{c}")?;
        }
        let text = r.lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty());
        for (i, line) in text.enumerate() {
            f.write_str(if i == 0 { " " } else { " / " })?;
            // The text came from the server: no control characters into our logs and DSNs.
            for c in line.chars() {
                write!(f, "{}", if c.is_control() { ' ' } else { c })?;
            }
        }
        Ok(())
    }
}
