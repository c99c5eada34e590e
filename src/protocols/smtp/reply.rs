//! SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 3463).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// Enhanced status code, e.g. (5, 1, 1); sent when the client asked for ENHANCEDSTATUSCODES,
    /// which nearly all do and which costs nothing to send always.
    pub status: Option<(u8, u16, u16)>,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, status: (u8, u16, u16), text: impl Into<String>) -> Reply {
        Reply {
            code,
            status: Some(status),
            lines: vec![text.into()],
        }
    }

    /// A reply without enhanced status code (greeting, EHLO, 354).
    pub fn plain(code: u16, lines: Vec<String>) -> Reply {
        Reply {
            code,
            status: None,
            lines,
        }
    }

    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// The wire form: `code-text` for all lines but the last, `code text` for the last.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.lines.len().max(1);
        for i in 0..n {
            let sep = if i + 1 == n { ' ' } else { '-' };
            let text = self.lines.get(i).map(String::as_str).unwrap_or("");
            // A reply line never carries CR, LF, NUL or another control character from a value
            // it quotes (RFC 5321 §4.2: text is HT and printable characters).
            let text: String = text
                .chars()
                .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
                .collect();
            match self.status {
                Some((a, b, c)) => write!(f, "{}{sep}{a}.{b}.{c} {text}\r\n", self.code)?,
                None => write!(f, "{}{sep}{text}\r\n", self.code)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiline_and_enhanced() {
        let r = Reply::plain(
            250,
            vec!["mail.example".into(), "PIPELINING".into(), "SIZE 10".into()],
        );
        assert_eq!(
            r.to_string(),
            "250-mail.example\r\n250-PIPELINING\r\n250 SIZE 10\r\n"
        );
        let r = Reply::new(550, (5, 1, 1), "no such user\r\nINJECT");
        assert_eq!(r.to_string(), "550 5.1.1 no such user  INJECT\r\n");
        let r = Reply::new(
            555,
            (5, 5, 4),
            "unsupported parameter \0\x1b[1m\u{7f}\u{85}\tx",
        );
        assert_eq!(
            r.to_string(),
            "555 5.5.4 unsupported parameter   [1m  \tx\r\n"
        );
    }
}
