//! LOGIN (draft-murchison-sasl-login): username and password in two steps. Obsolete but still
//! the only mechanism some clients offer.

use super::{Credentials, Next, SaslError, utf8};

#[derive(Debug, Default)]
pub struct LoginServer {
    username: Option<String>,
}

impl LoginServer {
    pub fn step(&mut self, response: Option<&[u8]>) -> Result<Next, SaslError> {
        match (&self.username, response) {
            (None, None) => Ok(Next::Challenge(b"Username:".to_vec())),
            (None, Some(user)) => {
                if user.is_empty() {
                    return Err(SaslError::Malformed("empty username"));
                }
                self.username = Some(utf8(user, "username is not UTF-8")?);
                Ok(Next::Challenge(b"Password:".to_vec()))
            }
            (Some(_), None) => Err(SaslError::Malformed("expected a password")),
            (Some(username), Some(password)) => Ok(Next::Verify(Credentials {
                authzid: None,
                username: username.clone(),
                password: utf8(password, "password is not UTF-8")?,
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login() {
        let mut m = LoginServer::default();
        assert_eq!(
            m.step(None).unwrap(),
            Next::Challenge(b"Username:".to_vec())
        );
        assert_eq!(
            m.step(Some(b"mox")).unwrap(),
            Next::Challenge(b"Password:".to_vec())
        );
        let Next::Verify(c) = m.step(Some(b"pw")).unwrap() else {
            panic!()
        };
        assert_eq!((c.username.as_str(), c.password.as_str()), ("mox", "pw"));
    }
}
