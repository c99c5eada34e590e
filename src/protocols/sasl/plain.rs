//! PLAIN (RFC 4616): `[authzid] NUL authcid NUL passwd` in one message.

use super::{Credentials, Next, SaslError, utf8};

#[derive(Debug)]
pub struct PlainServer;

impl PlainServer {
    pub fn step(&mut self, response: Option<&[u8]>) -> Result<Next, SaslError> {
        let Some(msg) = response else {
            // No initial response: ask for it with an empty challenge (RFC 4422 §5).
            return Ok(Next::Challenge(Vec::new()));
        };
        let mut fields = msg.split(|&b| b == 0);
        let (Some(authzid), Some(username), Some(password), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(SaslError::Malformed(
                "PLAIN needs authzid NUL authcid NUL password",
            ));
        };
        if username.is_empty() || password.is_empty() {
            return Err(SaslError::Malformed("empty username or password"));
        }
        Ok(Next::Verify(Credentials {
            authzid: (!authzid.is_empty())
                .then(|| utf8(authzid, "authzid is not UTF-8"))
                .transpose()?,
            username: utf8(username, "username is not UTF-8")?,
            password: utf8(password, "password is not UTF-8")?,
        }))
    }
}

/// The client: everything in the initial response, or in answer to the server's empty
/// challenge when the protocol has no initial response.
pub struct PlainClient {
    message: Vec<u8>,
    sent: bool,
}

impl std::fmt::Debug for PlainClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainClient")
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

impl PlainClient {
    pub fn new(authzid: Option<&str>, username: &str, password: &str) -> PlainClient {
        let mut message = Vec::new();
        message.extend_from_slice(authzid.unwrap_or("").as_bytes());
        message.push(0);
        message.extend_from_slice(username.as_bytes());
        message.push(0);
        message.extend_from_slice(password.as_bytes());
        PlainClient {
            message,
            sent: false,
        }
    }

    pub fn initial_response(&mut self) -> Result<Vec<u8>, SaslError> {
        if self.sent {
            return Err(SaslError::OutOfOrder("PLAIN was sent already"));
        }
        self.sent = true;
        Ok(self.message.clone())
    }

    pub fn step(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        if !challenge.is_empty() {
            return Err(SaslError::Malformed("PLAIN expects an empty challenge"));
        }
        self.initial_response()
    }

    pub fn is_done(&self) -> bool {
        self.sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain() {
        let mut m = PlainServer;
        assert_eq!(m.step(None).unwrap(), Next::Challenge(vec![]));
        let Next::Verify(c) = m.step(Some(b"\0mox@localhost\0moxmoxmox")).unwrap() else {
            panic!()
        };
        assert_eq!(
            (c.authzid, c.username.as_str(), c.password.as_str()),
            (None, "mox@localhost", "moxmoxmox")
        );
        assert!(m.step(Some(b"mox\0pw")).is_err());
        assert!(m.step(Some(b"\0a\0b\0c")).is_err());
        assert!(m.step(Some(b"\0a\0")).is_err());
        assert!(m.step(Some(b"\0\xff\0pw")).is_err());
    }

    #[test]
    fn client() {
        let mut c = PlainClient::new(None, "mox@localhost", "moxmoxmox");
        assert_eq!(c.step(b"").unwrap(), b"\0mox@localhost\0moxmoxmox");
        assert!(c.is_done());
        assert!(c.step(b"").is_err());
        let mut c = PlainClient::new(Some("admin"), "mox", "pw");
        assert!(c.step(b"x").is_err());
        assert_eq!(c.initial_response().unwrap(), b"admin\0mox\0pw");
        assert!(c.initial_response().is_err());
    }
}
