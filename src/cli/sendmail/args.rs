//! The sendmail command line, as cron, mailx, git and scripts use it: getopt-style single
//! letter options (grouped booleans like `-ti`, values attached like `-fADDR` or separate like
//! `-f ADDR`), then recipients. Options sendmail knows but that mean nothing for submission are
//! accepted and ignored; anything else is a usage error (exit 64).

use std::path::PathBuf;

/// What the command line asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendmailArgs {
    /// Recipients as given, before address parsing (an argument may hold several, with commas).
    pub recipients: Vec<String>,
    /// `-f` / `-r`: the envelope sender.
    pub sender: Option<String>,
    /// `-F`: the full name for a From header we add.
    pub full_name: Option<String>,
    /// `-t`: recipients also from the To, Cc and Bcc header fields.
    pub recipients_from_headers: bool,
    /// `-i` / `-oi`: a line with a single "." does not end the message.
    pub ignore_dots: bool,
    /// `-v`: tell on stderr how the submission went.
    pub verbose: bool,
    /// `--config FILE`, only as `moxide sendmail`.
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    #[error("unknown option -{0}")]
    Unknown(char),
    #[error("unknown option {0}")]
    UnknownLong(String),
    #[error("option -{0} needs a value")]
    MissingValue(char),
    #[error("unsupported option -{0}{1}")]
    Unsupported(char, String),
}

/// Boolean options: `i`, `t`, `v` do something; the others are accepted for compatibility
/// (`-m` "me too", `-n` no aliasing, `-s` save From lines, `-U` initial user submission, `-G`
/// gateway submission, `-c` no connection caching).
const FLAGS: &str = "itvmnsUGc";
/// Options that take a value: `f`/`r` sender, `F` full name, `o` option, `b` mode, `B` body type,
/// `N` DSN notify, `R` DSN return, `V` envelope id, `L` syslog label, `h` hop count.
const WITH_VALUE: &str = "frFobBNRVLh";

/// Parses the arguments after the program (or subcommand) name. `allow_config` accepts
/// `--config FILE` (as `moxide sendmail`; a real sendmail has no such option).
pub fn parse(args: &[String], allow_config: bool) -> Result<SendmailArgs, ArgsError> {
    let mut out = SendmailArgs::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            out.recipients.extend(iter.by_ref().cloned());
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            if name != "config" || !allow_config {
                return Err(ArgsError::UnknownLong(arg.clone()));
            }
            let value = match inline {
                Some(v) => v,
                None => iter.next().cloned().ok_or(ArgsError::MissingValue('-'))?,
            };
            out.config = Some(PathBuf::from(value));
            continue;
        }
        let Some(letters) = arg.strip_prefix('-').filter(|l| !l.is_empty()) else {
            out.recipients.push(arg.clone());
            continue;
        };
        for (i, c) in letters.char_indices() {
            if FLAGS.contains(c) {
                match c {
                    'i' => out.ignore_dots = true,
                    't' => out.recipients_from_headers = true,
                    'v' => out.verbose = true,
                    _ => {}
                }
                continue;
            }
            if !WITH_VALUE.contains(c) {
                return Err(ArgsError::Unknown(c));
            }
            let rest = &letters[i + c.len_utf8()..];
            let value = if rest.is_empty() {
                iter.next().cloned().ok_or(ArgsError::MissingValue(c))?
            } else {
                rest.to_string()
            };
            apply(&mut out, c, value)?;
            break;
        }
    }
    Ok(out)
}

fn apply(out: &mut SendmailArgs, option: char, value: String) -> Result<(), ArgsError> {
    match option {
        'f' | 'r' => out.sender = Some(value),
        'F' => out.full_name = Some(value),
        'o' => option_o(out, &value)?,
        // -bm: read a message and deliver it, the only mode there is here.
        'b' if value == "m" => {}
        'b' => return Err(ArgsError::Unsupported('b', value)),
        // Body type, DSN and other hints the submission server decides about itself.
        _ => {}
    }
    Ok(())
}

/// `-oX`: `-oi` (dots), `-od*` delivery mode and `-oe*` error mode, `-om` me too. Delivery is
/// always immediate and errors always go to stderr (with the message saved).
fn option_o(out: &mut SendmailArgs, value: &str) -> Result<(), ArgsError> {
    match value {
        "i" => out.ignore_dots = true,
        "m" | "ee" | "em" | "ep" | "eq" | "ew" => {}
        v if v.starts_with('d') => {}
        _ => return Err(ArgsError::Unsupported('o', value.to_string())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<SendmailArgs, ArgsError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(&args, true)
    }

    #[test]
    fn recipients_and_sender() {
        let a = p(&[
            "-fbob@example.org",
            "alice@example.org",
            "carol@example.org",
        ])
        .unwrap();
        assert_eq!(a.sender.as_deref(), Some("bob@example.org"));
        assert_eq!(a.recipients, ["alice@example.org", "carol@example.org"]);

        let a = p(&["-f", "bob@example.org", "-F", "Bob B", "x@example.org"]).unwrap();
        assert_eq!(a.sender.as_deref(), Some("bob@example.org"));
        assert_eq!(a.full_name.as_deref(), Some("Bob B"));
        assert_eq!(a.recipients, ["x@example.org"]);

        let a = p(&["-r", "bob@example.org"]).unwrap();
        assert_eq!(a.sender.as_deref(), Some("bob@example.org"));
    }

    #[test]
    fn flags() {
        let a = p(&["-t"]).unwrap();
        assert!(a.recipients_from_headers && !a.ignore_dots && !a.verbose);
        let a = p(&["-tiv"]).unwrap();
        assert!(a.recipients_from_headers && a.ignore_dots && a.verbose);
        assert!(p(&["-oi"]).unwrap().ignore_dots);
        assert!(p(&["-o", "i"]).unwrap().ignore_dots);
        assert!(!p(&["x@example.org"]).unwrap().ignore_dots);
        // Grouped flags ending in an option with a value.
        let a = p(&["-tfbob@example.org"]).unwrap();
        assert!(a.recipients_from_headers);
        assert_eq!(a.sender.as_deref(), Some("bob@example.org"));
    }

    #[test]
    fn ignored() {
        // What cron and mailx pass.
        let a = p(&[
            "-FCronDaemon",
            "-i",
            "-B8BITMIME",
            "-oem",
            "-oep",
            "-odi",
            "-odb",
            "-bm",
            "-N",
            "never",
            "-R",
            "hdrs",
            "-U",
            "root",
        ])
        .unwrap();
        assert_eq!(a.full_name.as_deref(), Some("CronDaemon"));
        assert!(a.ignore_dots);
        assert_eq!(a.recipients, ["root"]);
        let a = p(&["-B", "8BITMIME", "x@example.org"]).unwrap();
        assert_eq!(a.recipients, ["x@example.org"]);
    }

    #[test]
    fn errors() {
        assert_eq!(p(&["-x"]), Err(ArgsError::Unknown('x')));
        assert_eq!(p(&["-tq"]), Err(ArgsError::Unknown('q')));
        assert_eq!(p(&["-f"]), Err(ArgsError::MissingValue('f')));
        assert_eq!(p(&["-bp"]), Err(ArgsError::Unsupported('b', "p".into())));
        assert_eq!(p(&["-oX"]), Err(ArgsError::Unsupported('o', "X".into())));
        assert_eq!(
            p(&["--frobnicate"]),
            Err(ArgsError::UnknownLong("--frobnicate".into()))
        );
    }

    #[test]
    fn config_and_double_dash() {
        let a = p(&["--config", "/x.toml", "-t", "--", "-odd@example.org"]).unwrap();
        assert_eq!(a.config, Some(PathBuf::from("/x.toml")));
        assert_eq!(a.recipients, ["-odd@example.org"]);
        let a = p(&["--config=/y.toml"]).unwrap();
        assert_eq!(a.config, Some(PathBuf::from("/y.toml")));
        let args = vec!["--config".to_string(), "/x.toml".to_string()];
        assert!(parse(&args, false).is_err());
    }
}
