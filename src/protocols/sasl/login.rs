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

/// The client: answers the first challenge with the username and the second with the
/// password, whatever their text ("Username:" and "Password:" by convention).
pub struct LoginClient {
    username: String,
    password: String,
    answered: u8,
}

impl std::fmt::Debug for LoginClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginClient")
            .field("username", &self.username)
            .field("answered", &self.answered)
            .finish_non_exhaustive()
    }
}

impl LoginClient {
    pub fn new(username: &str, password: &str) -> LoginClient {
        LoginClient {
            username: username.to_string(),
            password: password.to_string(),
            answered: 0,
        }
    }

    pub fn step(&mut self, _challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        self.answered += 1;
        match self.answered {
            1 => Ok(self.username.as_bytes().to_vec()),
            2 => Ok(self.password.as_bytes().to_vec()),
            _ => {
                self.answered = 3;
                Err(SaslError::OutOfOrder("LOGIN has two challenges"))
            }
        }
    }

    pub fn is_done(&self) -> bool {
        self.answered == 2
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

    #[test]
    fn client() {
        let mut c = LoginClient::new("mox", "pw");
        assert_eq!(c.step(b"Username:").unwrap(), b"mox");
        assert!(!c.is_done());
        assert_eq!(c.step(b"Password:").unwrap(), b"pw");
        assert!(c.is_done());
        assert!(c.step(b"Again:").is_err());
        assert!(!c.is_done());
    }
}
