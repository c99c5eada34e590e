//! SMTP command parsing (RFC 5321 §4.1), with SMTPUTF8 addresses (RFC 6531). Parses one line
//! (without its CRLF) into a typed [`Command`]; never panics on any input.

use crate::address::{Address, Domain, Localpart};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ehlo(String),
    Helo(String),
    /// `utf8`: the path was sent with non-ASCII characters (needs SMTPUTF8, RFC 6531 §3.4); an
    /// address whose domain came in A-label form does not.
    Mail {
        from: Option<Address>,
        params: MailParams,
        utf8: bool,
    },
    /// `to` is None for `<Postmaster>` without a domain (RFC 5321 §4.1.1.3).
    Rcpt {
        to: Option<Address>,
        utf8: bool,
    },
    Data,
    /// `BDAT size [LAST]` (RFC 3030 §2).
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    Vrfy,
    Help,
    StartTls,
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// SIZE= (RFC 1870).
    pub size: Option<u64>,
    /// BODY=8BITMIME (RFC 6152).
    pub body_8bit: bool,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// REQUIRETLS (RFC 8689): the message may only travel over verified TLS.
    pub requiretls: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command")]
    Unknown,
    #[error("{0}")]
    Syntax(String),
    #[error("unsupported parameter {0}")]
    UnknownParameter(String),
    #[error("command line is not UTF-8")]
    NotUtf8,
}

impl CommandError {
    fn syntax(s: impl Into<String>) -> CommandError {
        CommandError::Syntax(s.into())
    }
}

/// Parses one command line, without the trailing CRLF.
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    let line = std::str::from_utf8(line).map_err(|_| CommandError::NotUtf8)?;
    let (verb, rest) = match line.find(' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, ""),
    };
    let verb = verb.to_ascii_uppercase();
    let no_args = |cmd: Command| {
        if rest.trim().is_empty() {
            Ok(cmd)
        } else {
            Err(CommandError::syntax(format!("{verb} takes no arguments")))
        }
    };
    match verb.as_str() {
        "EHLO" | "HELO" => {
            let name = rest.trim();
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(CommandError::syntax(format!(
                    "{verb} needs a domain or address literal"
                )));
            }
            Ok(if verb == "EHLO" {
                Command::Ehlo(name.to_string())
            } else {
                Command::Helo(name.to_string())
            })
        }
        "MAIL" => {
            let rest = strip_prefix_ci(rest, "FROM:")
                .ok_or_else(|| CommandError::syntax("expected MAIL FROM:<address>"))?;
            let (path, params) = split_path(rest)?;
            let from = if path == "<>" {
                None
            } else {
                Some(parse_path(path)?)
            };
            Ok(Command::Mail {
                from,
                params: parse_mail_params(params)?,
                utf8: !path.is_ascii(),
            })
        }
        "RCPT" => {
            let rest = strip_prefix_ci(rest, "TO:")
                .ok_or_else(|| CommandError::syntax("expected RCPT TO:<address>"))?;
            let (path, params) = split_path(rest)?;
            if let Some(p) = params.split_whitespace().next() {
                return Err(CommandError::UnknownParameter(p.to_string()));
            }
            // RFC 5321 §4.1.1.3: <Postmaster> without a domain must be accepted.
            if path.eq_ignore_ascii_case("<postmaster>") {
                return Ok(Command::Rcpt {
                    to: None,
                    utf8: false,
                });
            }
            Ok(Command::Rcpt {
                to: Some(parse_path(path)?),
                utf8: !path.is_ascii(),
            })
        }
        "DATA" => no_args(Command::Data),
        "BDAT" => {
            let mut words = rest.split(' ').filter(|w| !w.is_empty());
            let size = words
                .next()
                .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|w| w.parse::<u64>().ok())
                .ok_or_else(|| CommandError::syntax("BDAT needs a chunk size"))?;
            let last = match words.next() {
                None => false,
                Some(w) if w.eq_ignore_ascii_case("LAST") => true,
                Some(_) => return Err(CommandError::syntax("expected BDAT size [LAST]")),
            };
            if words.next().is_some() {
                return Err(CommandError::syntax("expected BDAT size [LAST]"));
            }
            Ok(Command::Bdat { size, last })
        }
        "RSET" => no_args(Command::Rset),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => no_args(Command::Quit),
        "VRFY" => Ok(Command::Vrfy),
        "HELP" => Ok(Command::Help),
        "STARTTLS" => no_args(Command::StartTls),
        "AUTH" => {
            let mut words = rest.split(' ').filter(|w| !w.is_empty());
            let mechanism = words
                .next()
                .ok_or_else(|| CommandError::syntax("AUTH needs a mechanism"))?;
            let initial = words.next().map(str::to_string);
            if words.next().is_some() {
                return Err(CommandError::syntax("too many arguments to AUTH"));
            }
            Ok(Command::Auth {
                mechanism: mechanism.to_ascii_uppercase(),
                initial,
            })
        }
        _ => Err(CommandError::Unknown),
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    // Some clients put a space after the colon; accept it (RFC 5321 §4.1.1.2 does not, but nothing
    // is ambiguous about it).
    head.eq_ignore_ascii_case(prefix)
        .then(|| s[prefix.len()..].trim_start())
}

/// Splits `<path> params` at the closing bracket (a quoted localpart may hold '>').
fn split_path(s: &str) -> Result<(&str, &str), CommandError> {
    if !s.starts_with('<') {
        return Err(CommandError::syntax("address must be in angle brackets"));
    }
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => {
                let rest = &s[i + 1..];
                if !rest.is_empty() && !rest.starts_with(' ') {
                    return Err(CommandError::syntax("expected space after address"));
                }
                return Ok((&s[..=i], rest.trim()));
            }
            _ => {}
        }
    }
    Err(CommandError::syntax("missing closing angle bracket"))
}

/// Parses `<[@route,...:]local@domain>` (RFC 5321 §4.1.2; source routes are ignored as §C says).
pub fn parse_path(path: &str) -> Result<Address, CommandError> {
    let inner = path
        .strip_prefix('<')
        .and_then(|p| p.strip_suffix('>'))
        .ok_or_else(|| CommandError::syntax("address must be in angle brackets"))?;
    let inner = if inner.starts_with('@') {
        inner
            .split_once(':')
            .map(|(_, m)| m)
            .ok_or_else(|| CommandError::syntax("bad source route"))?
    } else {
        inner
    };
    parse_mailbox(inner)
}

/// Parses `local-part@domain`: a dot-string or quoted-string localpart (UTF-8 allowed, RFC 6531
/// §3.3) and a domain (address literals are not accepted as destinations here).
pub fn parse_mailbox(s: &str) -> Result<Address, CommandError> {
    let (local, domain) = if let Some(quoted) = s.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e)) if (' '..='~').contains(&e) || !e.is_ascii() => value.push(e),
                    _ => return Err(CommandError::syntax("bad escape in quoted localpart")),
                },
                '"' => {
                    end = Some(i);
                    break;
                }
                c if c.is_ascii_control() => {
                    return Err(CommandError::syntax("control character in localpart"));
                }
                c => value.push(c),
            }
        }
        let end = end.ok_or_else(|| CommandError::syntax("unterminated quoted localpart"))?;
        let rest = &quoted[end + 1..];
        let domain = rest
            .strip_prefix('@')
            .ok_or_else(|| CommandError::syntax("expected @ after localpart"))?;
        (value, domain)
    } else {
        let (local, domain) = s
            .rsplit_once('@')
            .ok_or_else(|| CommandError::syntax("address needs an @domain"))?;
        let atext = |c: char| {
            c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
        };
        if local.is_empty()
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
            || !local.chars().all(|c| c == '.' || atext(c))
        {
            return Err(CommandError::syntax(format!("invalid localpart {local:?}")));
        }
        (local.to_string(), domain)
    };
    if domain.starts_with('[') {
        return Err(CommandError::syntax("address literals are not accepted"));
    }
    let localpart = Localpart::new(&local).map_err(|e| CommandError::syntax(e.to_string()))?;
    let domain = Domain::parse(domain).map_err(|e| CommandError::syntax(e.to_string()))?;
    Ok(Address { localpart, domain })
}

fn parse_mail_params(s: &str) -> Result<MailParams, CommandError> {
    let mut p = MailParams::default();
    for param in s.split(' ').filter(|w| !w.is_empty()) {
        let (key, value) = match param.split_once('=') {
            Some((k, v)) => (k.to_ascii_uppercase(), Some(v)),
            None => (param.to_ascii_uppercase(), None),
        };
        match (key.as_str(), value) {
            ("SIZE", Some(v)) => {
                p.size = Some(
                    v.parse()
                        .map_err(|_| CommandError::syntax(format!("bad SIZE value {v:?}")))?,
                )
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => p.body_8bit = true,
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => p.body_8bit = false,
            ("SMTPUTF8", None) => p.smtputf8 = true,
            ("REQUIRETLS", None) => p.requiretls = true,
            _ => return Err(CommandError::UnknownParameter(param.to_string())),
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        Address::parse_simple(s).unwrap()
    }

    #[test]
    fn commands() {
        assert_eq!(
            parse_command(b"ehlo client.example").unwrap(),
            Command::Ehlo("client.example".into())
        );
        assert_eq!(
            parse_command(b"MAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME").unwrap(),
            Command::Mail {
                from: Some(addr("a@b.example")),
                params: MailParams {
                    size: Some(100),
                    body_8bit: true,
                    ..MailParams::default()
                },
                utf8: false
            }
        );
        assert_eq!(
            parse_command(b"MAIL FROM:<>").unwrap(),
            Command::Mail {
                from: None,
                params: MailParams::default(),
                utf8: false
            }
        );
        assert_eq!(
            parse_command(b"mail from: <a@b.example>").unwrap(),
            Command::Mail {
                from: Some(addr("a@b.example")),
                params: MailParams::default(),
                utf8: false
            }
        );
        assert_eq!(
            parse_command(b"RCPT TO:<@relay.example:x@y.example>").unwrap(),
            Command::Rcpt {
                to: Some(addr("x@y.example")),
                utf8: false
            }
        );
        assert_eq!(
            parse_command("RCPT TO:<δοκιμή@παράδειγμα.δοκιμή>".as_bytes()).unwrap(),
            Command::Rcpt {
                to: Some(addr("δοκιμή@παράδειγμα.δοκιμή")),
                utf8: true
            }
        );
        assert_eq!(
            parse_command(b"RCPT TO:<a@xn--mx-lka.example>").unwrap(),
            Command::Rcpt {
                to: Some(addr("a@møx.example")),
                utf8: false
            }
        );
        assert_eq!(parse_command(b"DATA").unwrap(), Command::Data);
        assert_eq!(
            parse_command(b"AUTH plain AGEAYg==").unwrap(),
            Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("AGEAYg==".into())
            }
        );
    }

    #[test]
    fn quoted_localparts() {
        let Command::Rcpt { to, .. } = parse_command(br#"RCPT TO:<"a b>\"c"@x.example>"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(to.unwrap().localpart.as_str(), "a b>\"c");
    }

    #[test]
    fn errors() {
        assert_eq!(parse_command(b"BLAH"), Err(CommandError::Unknown));
        assert!(matches!(
            parse_command(b"MAIL FROM:a@b.example"),
            Err(CommandError::Syntax(_))
        ));
        assert!(matches!(
            parse_command(b"MAIL FROM:<a@b.example> FOO=1"),
            Err(CommandError::UnknownParameter(_))
        ));
        assert!(matches!(
            parse_command(b"RCPT TO:<a..b@x.example>"),
            Err(CommandError::Syntax(_))
        ));
        assert!(matches!(
            parse_command(b"RCPT TO:<a@[1.2.3.4]>"),
            Err(CommandError::Syntax(_))
        ));
        assert_eq!(
            parse_command(b"RCPT TO:<PostMaster>"),
            Ok(Command::Rcpt {
                to: None,
                utf8: false
            })
        );
        assert!(matches!(
            parse_command(b"RCPT TO:<someone>"),
            Err(CommandError::Syntax(_))
        ));
        assert_eq!(
            parse_command(b"BDAT 100 last"),
            Ok(Command::Bdat {
                size: 100,
                last: true
            })
        );
        for bad in [
            &b"BDAT"[..],
            b"BDAT -1",
            b"BDAT 1 NOW",
            b"BDAT 1 LAST x",
            b"BDAT +5",
        ] {
            assert!(
                matches!(parse_command(bad), Err(CommandError::Syntax(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse_command(b"EHLO"),
            Err(CommandError::Syntax(_))
        ));
        assert!(matches!(
            parse_command(b"DATA now"),
            Err(CommandError::Syntax(_))
        ));
        assert_eq!(parse_command(b"\xff\xfe"), Err(CommandError::NotUtf8));
    }
}
