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
}
