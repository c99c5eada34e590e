//! CRAM-MD5 (RFC 2195): the server sends a unique challenge, the client answers with its
//! username, a space and the lowercase hex HMAC-MD5 of the challenge keyed with its password.
//! The server checks it against the prepared HMAC state it stores, without the password.

use super::{Next, SaslError, utf8};
use crate::auth::{CramMd5Secret, PasswordSecrets, ct_eq, prep};

#[derive(Debug)]
pub struct CramMd5Server {
    challenge: String,
    state: ServerState,
}

#[derive(Debug)]
enum ServerState {
    Start,
    Challenged,
    NeedSecrets { username: String, digest: [u8; 16] },
    Done,
}

impl CramMd5Server {
    /// `challenge` is the text sent, `<random.timestamp@hostname>`; see [`super::Fresh`].
    pub fn new(challenge: String) -> CramMd5Server {
        CramMd5Server {
            challenge,
            state: ServerState::Start,
        }
    }

    pub fn step(&mut self, response: Option<&[u8]>) -> Result<Next, SaslError> {
        match std::mem::replace(&mut self.state, ServerState::Done) {
            ServerState::Start => {
                // The server speaks first; an empty initial response is no response.
                if response.is_some_and(|r| !r.is_empty()) {
                    return Err(SaslError::Malformed("CRAM-MD5 has no initial response"));
                }
                self.state = ServerState::Challenged;
                Ok(Next::Challenge(self.challenge.as_bytes().to_vec()))
            }
            ServerState::Challenged => {
                let response = response.ok_or(SaslError::Malformed("expected a response"))?;
                let (username, digest) = parse_response(response)?;
                self.state = ServerState::NeedSecrets {
                    username: username.clone(),
                    digest,
                };
                Ok(Next::NeedSecrets { username })
            }
            waiting @ ServerState::NeedSecrets { .. } => {
                self.state = waiting;
                Err(SaslError::OutOfOrder("secrets awaited"))
            }
            ServerState::Done => Err(SaslError::OutOfOrder("the exchange is over")),
        }
    }

    pub fn supply_secrets(&mut self, secrets: Option<&PasswordSecrets>) -> Result<Next, SaslError> {
        if !matches!(self.state, ServerState::NeedSecrets { .. }) {
            return Err(SaslError::OutOfOrder("no secrets asked for"));
        }
        let ServerState::NeedSecrets { username, digest } =
            std::mem::replace(&mut self.state, ServerState::Done)
        else {
            return Err(SaslError::OutOfOrder("no secrets asked for"));
        };
        let Some(secrets) = secrets else {
            return Err(SaslError::InvalidCredentials);
        };
        let Some(secret) = &secrets.cram_md5 else {
            return Err(SaslError::NotAvailable("CRAM-MD5"));
        };
        if !ct_eq(&secret.hmac(self.challenge.as_bytes()), &digest) {
            return Err(SaslError::InvalidCredentials);
        }
        Ok(Next::Authenticated {
            username,
            authzid: None,
        })
    }
}

/// `username SP digest`, the digest 32 hex digits. The username may itself contain spaces.
fn parse_response(response: &[u8]) -> Result<(String, [u8; 16]), SaslError> {
    let text = utf8(response, "response is not UTF-8")?;
    let (username, hex) = text
        .rsplit_once(' ')
        .ok_or(SaslError::Malformed("CRAM-MD5 needs username SP digest"))?;
    if username.is_empty() {
        return Err(SaslError::Malformed("empty username"));
    }
    let bytes = hex.as_bytes();
    if bytes.len() != 32 {
        return Err(SaslError::Malformed("digest is not 32 hex digits"));
    }
    let mut digest = [0u8; 16];
    for (out, pair) in digest.iter_mut().zip(bytes.chunks_exact(2)) {
        let high = hex_value(pair[0]).ok_or(SaslError::Malformed("digest is not hex"))?;
        let low = hex_value(pair[1]).ok_or(SaslError::Malformed("digest is not hex"))?;
        *out = high << 4 | low;
    }
    Ok((username.to_string(), digest))
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The client: no initial response, one answer.
pub struct CramMd5Client {
    username: String,
    secret: CramMd5Secret,
    answered: bool,
}

impl std::fmt::Debug for CramMd5Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CramMd5Client")
            .field("username", &self.username)
            .field("answered", &self.answered)
            .finish_non_exhaustive()
    }
}

impl CramMd5Client {
    pub fn new(username: &str, password: &str) -> Result<CramMd5Client, SaslError> {
        let prepared = prep::prepare(password).map_err(SaslError::Password)?;
        Ok(CramMd5Client {
            username: username.to_string(),
            secret: CramMd5Secret::derive(prepared.as_bytes()),
            answered: false,
        })
    }

    pub fn step(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        if self.answered {
            return Err(SaslError::OutOfOrder("CRAM-MD5 has one challenge"));
        }
        if challenge.is_empty() {
            return Err(SaslError::Malformed("empty CRAM-MD5 challenge"));
        }
        self.answered = true;
        let digest: String = self
            .secret
            .hmac(challenge)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(format!("{} {digest}", self.username).into_bytes())
    }

    pub fn is_done(&self) -> bool {
        self.answered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: &str = "<1896.697170952@postoffice.reston.mci.net>";

    fn tim() -> PasswordSecrets {
        PasswordSecrets::derive_with_salts("tanstaaftanstaaf", vec![1; 16], vec![2; 16])
    }

    #[test]
    fn rfc2195_example_server() {
        let mut s = CramMd5Server::new(CHALLENGE.into());
        assert_eq!(
            s.step(None).unwrap(),
            Next::Challenge(CHALLENGE.as_bytes().to_vec())
        );
        assert_eq!(
            s.step(Some(b"tim b913a602c7eda7a495b4e6e7334d3890"))
                .unwrap(),
            Next::NeedSecrets {
                username: "tim".into()
            }
        );
        assert_eq!(
            s.supply_secrets(Some(&tim())).unwrap(),
            Next::Authenticated {
                username: "tim".into(),
                authzid: None
            }
        );
        assert!(matches!(s.step(Some(b"")), Err(SaslError::OutOfOrder(_))));
    }

    #[test]
    fn rfc2195_example_client() {
        let mut c = CramMd5Client::new("tim", "tanstaaftanstaaf").unwrap();
        assert_eq!(
            c.step(CHALLENGE.as_bytes()).unwrap(),
            b"tim b913a602c7eda7a495b4e6e7334d3890"
        );
        assert!(c.is_done());
        assert!(c.step(CHALLENGE.as_bytes()).is_err());
    }

    #[test]
    fn wrong_digest_unknown_user_and_old_secrets_fail() {
        let run = |response: &[u8], secrets: Option<&PasswordSecrets>| {
            let mut s = CramMd5Server::new(CHALLENGE.into());
            s.step(Some(b"")).unwrap();
            s.step(Some(response))?;
            s.supply_secrets(secrets)
        };
        // Upper-case hex is the same digest.
        assert!(run(b"tim B913A602C7EDA7A495B4E6E7334D3890", Some(&tim())).is_ok());
        assert_eq!(
            run(b"tim b913a602c7eda7a495b4e6e7334d3891", Some(&tim())),
            Err(SaslError::InvalidCredentials)
        );
        assert_eq!(
            run(b"tim b913a602c7eda7a495b4e6e7334d3890", None),
            Err(SaslError::InvalidCredentials)
        );
        let mut old = tim();
        old.cram_md5 = None;
        assert_eq!(
            run(b"tim b913a602c7eda7a495b4e6e7334d3890", Some(&old)),
            Err(SaslError::NotAvailable("CRAM-MD5"))
        );
        for bad in [
            &b"tim"[..],
            b" b913a602c7eda7a495b4e6e7334d3890",
            b"tim b913a602c7eda7a495b4e6e7334d389",
            b"tim b913a602c7eda7a495b4e6e7334d389g",
            b"tim \xffb913a602c7eda7a495b4e6e7334d38",
            b"",
        ] {
            assert!(
                matches!(run(bad, Some(&tim())), Err(SaslError::Malformed(_))),
                "{bad:?}"
            );
        }
        // A username with a space.
        let mut s = CramMd5Server::new(CHALLENGE.into());
        s.step(None).unwrap();
        assert_eq!(
            s.step(Some(b"t m b913a602c7eda7a495b4e6e7334d3890"))
                .unwrap(),
            Next::NeedSecrets {
                username: "t m".into()
            }
        );
        // Out of order calls change nothing.
        let mut s = CramMd5Server::new(CHALLENGE.into());
        s.step(None).unwrap();
        s.step(Some(b"tim b913a602c7eda7a495b4e6e7334d3890"))
            .unwrap();
        assert!(matches!(s.step(Some(b"x")), Err(SaslError::OutOfOrder(_))));
        assert!(s.supply_secrets(Some(&tim())).is_ok());
        // An initial response is refused; secrets before they are asked for too.
        let mut s = CramMd5Server::new(CHALLENGE.into());
        assert!(s.step(Some(b"tim")).is_err());
        let mut s = CramMd5Server::new(CHALLENGE.into());
        assert!(matches!(
            s.supply_secrets(Some(&tim())),
            Err(SaslError::OutOfOrder(_))
        ));
    }
}
