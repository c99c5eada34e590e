//! SCRAM (RFC 5802) with SHA-1 and SHA-256 (RFC 7677), with and without channel binding
//! (-PLUS; `tls-exporter` of RFC 9266, `tls-server-end-point` of RFC 5929).
//!
//! ```text
//! C: client-first  = gs2-header client-first-bare     gs2-header = (n | y | p=cb-name) "," [a=authzid] ","
//!                                                     client-first-bare = n=username,r=c-nonce[,ext]
//! S: server-first  = r=c-nonce s-nonce,s=salt,i=iterations[,ext]
//! C: client-final  = c=base64(gs2-header cb-data),r=c-nonce s-nonce[,ext],p=proof
//! S: server-final  = v=server-signature | e=error
//! ```
//!
//! This file holds the message syntax both sides share; `server.rs` and `client.rs` the two
//! state machines.

pub mod client;
pub mod server;

pub use client::ScramClient;
pub use server::ScramServer;

use super::{SaslError, base64_decode};

/// The gs2-cbind-flag: what the client says about channel binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum CbindFlag {
    /// `n`: the client does not support channel binding.
    No,
    /// `y`: the client supports it but believes the server does not.
    ClientOnly,
    /// `p=cb-name`: the client binds to this channel binding type.
    Binding(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ClientFirst {
    /// The gs2 header as sent, with its trailing comma: part of the channel binding input.
    pub gs2_header: String,
    pub flag: CbindFlag,
    pub authzid: Option<String>,
    pub username: String,
    pub nonce: String,
    /// The message without the gs2 header: part of the AuthMessage.
    pub bare: String,
}

pub(super) fn parse_client_first(message: &[u8]) -> Result<ClientFirst, SaslError> {
    let text = std::str::from_utf8(message).map_err(|_| SaslError::Malformed("not UTF-8"))?;
    let mut parts = text.splitn(3, ',');
    let (Some(flag), Some(authz), Some(bare)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(SaslError::Malformed("client-first needs a gs2 header"));
    };
    let flag = match flag {
        "n" => CbindFlag::No,
        "y" => CbindFlag::ClientOnly,
        _ => match flag.strip_prefix("p=") {
            Some(name) if is_cb_name(name) => CbindFlag::Binding(name.to_string()),
            _ => return Err(SaslError::Malformed("bad channel binding flag")),
        },
    };
    let authzid = match authz {
        "" => None,
        _ => {
            let name = authz
                .strip_prefix("a=")
                .ok_or(SaslError::Malformed("bad authzid"))?;
            let name = decode_saslname(name)?;
            if name.is_empty() {
                return Err(SaslError::Malformed("empty authzid"));
            }
            Some(name)
        }
    };
    let gs2_header = text[..text.len() - bare.len()].to_string();

    let mut attrs = bare.split(',');
    let first = attrs.next().unwrap_or("");
    if first.starts_with("m=") {
        return Err(SaslError::Malformed("mandatory extension not supported"));
    }
    let username = first
        .strip_prefix("n=")
        .ok_or(SaslError::Malformed("expected n=username"))?;
    let username = decode_saslname(username)?;
    if username.is_empty() {
        return Err(SaslError::Malformed("empty username"));
    }
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or(SaslError::Malformed("expected r=nonce"))?;
    if !is_nonce(nonce) {
        return Err(SaslError::Malformed("bad nonce"));
    }
    check_extensions(attrs)?;
    Ok(ClientFirst {
        gs2_header,
        flag,
        authzid,
        username,
        nonce: nonce.to_string(),
        bare: bare.to_string(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ServerFirst {
    pub nonce: String,
    pub salt: Vec<u8>,
    pub iterations: u32,
}

pub(super) fn parse_server_first(message: &[u8]) -> Result<ServerFirst, SaslError> {
    let text = std::str::from_utf8(message).map_err(|_| SaslError::Malformed("not UTF-8"))?;
    let mut attrs = text.split(',');
    let first = attrs.next().unwrap_or("");
    if first.starts_with("m=") {
        return Err(SaslError::Malformed("mandatory extension not supported"));
    }
    let nonce = first
        .strip_prefix("r=")
        .ok_or(SaslError::Malformed("expected r=nonce"))?;
    if !is_nonce(nonce) {
        return Err(SaslError::Malformed("bad nonce"));
    }
    let salt = attrs
        .next()
        .and_then(|a| a.strip_prefix("s="))
        .ok_or(SaslError::Malformed("expected s=salt"))?;
    let salt = base64_decode(salt, "salt is not base64")?;
    if salt.is_empty() {
        return Err(SaslError::Malformed("empty salt"));
    }
    let iterations = attrs
        .next()
        .and_then(|a| a.strip_prefix("i="))
        .ok_or(SaslError::Malformed("expected i=iterations"))?;
    let iterations =
        parse_positive(iterations).ok_or(SaslError::Malformed("bad iteration count"))?;
    check_extensions(attrs)?;
    Ok(ServerFirst {
        nonce: nonce.to_string(),
        salt,
        iterations,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ClientFinal {
    /// The decoded `c=`: gs2 header and channel binding data.
    pub cbind_input: Vec<u8>,
    pub nonce: String,
    pub proof: Vec<u8>,
    /// The message up to the proof: part of the AuthMessage.
    pub without_proof: String,
}

pub(super) fn parse_client_final(message: &[u8]) -> Result<ClientFinal, SaslError> {
    let text = std::str::from_utf8(message).map_err(|_| SaslError::Malformed("not UTF-8"))?;
    // The proof is the last attribute, and base64 has no comma.
    let (without_proof, proof) = text
        .rsplit_once(",p=")
        .ok_or(SaslError::Malformed("expected p=proof last"))?;
    let proof = base64_decode(proof, "proof is not base64")?;
    let mut attrs = without_proof.split(',');
    let cbind = attrs
        .next()
        .and_then(|a| a.strip_prefix("c="))
        .ok_or(SaslError::Malformed("expected c=channel-binding"))?;
    let cbind_input = base64_decode(cbind, "channel binding is not base64")?;
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or(SaslError::Malformed("expected r=nonce"))?;
    check_extensions(attrs)?;
    Ok(ClientFinal {
        cbind_input,
        nonce: nonce.to_string(),
        proof,
        without_proof: without_proof.to_string(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ServerFinal {
    Verifier(Vec<u8>),
    Error(String),
}

pub(super) fn parse_server_final(message: &[u8]) -> Result<ServerFinal, SaslError> {
    let text = std::str::from_utf8(message).map_err(|_| SaslError::Malformed("not UTF-8"))?;
    let mut attrs = text.split(',');
    let first = attrs.next().unwrap_or("");
    let result = if let Some(error) = first.strip_prefix("e=") {
        ServerFinal::Error(error.to_string())
    } else if let Some(v) = first.strip_prefix("v=") {
        ServerFinal::Verifier(base64_decode(v, "verifier is not base64")?)
    } else {
        return Err(SaslError::Malformed("expected v=verifier or e=error"));
    };
    check_extensions(attrs)?;
    Ok(result)
}

/// Unknown optional attributes are allowed after the known ones (RFC 5802 §5.1): `x=value`.
fn check_extensions<'a>(attrs: impl Iterator<Item = &'a str>) -> Result<(), SaslError> {
    for attr in attrs {
        let b = attr.as_bytes();
        if b.len() < 2 || !b[0].is_ascii_alphabetic() || b[1] != b'=' {
            return Err(SaslError::Malformed("bad attribute"));
        }
    }
    Ok(())
}

/// printable = %x21-2B / %x2D-7E: visible ASCII but the comma.
pub(super) fn is_nonce(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

fn is_cb_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

fn parse_positive(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&n| n > 0)
}

/// saslname: `,` and `=` are written `=2C` and `=3D`; any other `=` is an error.
pub(super) fn decode_saslname(s: &str) -> Result<String, SaslError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3);
        match escape {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(SaslError::Malformed("bad escape in name")),
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

pub(super) fn encode_saslname(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

#[cfg(test)]
mod tests;
