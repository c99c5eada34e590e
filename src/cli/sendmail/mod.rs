//! `moxide sendmail`: a sendmail-compatible command for local programs (cron, scripts, mailx)
//! that submits the message on stdin to a configured submission server with the SMTP client.
//! Also run when the binary is invoked through a link named `sendmail`.
//!
//! Exit codes are sendmail's, from sysexits.h:
//! - 0: every recipient accepted;
//! - 64 (EX_USAGE): bad command line, bad recipient argument, or no recipients;
//! - 65 (EX_DATAERR): with `-t`, an address in the header that cannot be used;
//! - 69 (EX_UNAVAILABLE): refused for good, e.g. 5xx to a recipient or the message, 535 for
//!   the credentials, no usable SASL mechanism, no STARTTLS offered; trying again will not help;
//! - 74 (EX_IOERR): reading the message from stdin failed;
//! - 75 (EX_TEMPFAIL): could not connect, a temporary refusal (4xx), a dropped connection; when
//!   some recipients failed temporarily and others for good, this one;
//! - 78 (EX_CONFIG): the configuration file is missing or wrong.
//!
//! When the message was not accepted for a recipient, it is saved under the home directory
//! (see `save`) and the path printed, so nothing is lost.

mod args;
mod config;
mod headers;
mod input;
mod save;
mod submit;

use std::ffi::OsString;
use std::process::ExitCode;

use crate::address::Address;
use crate::protocols::smtp::client::{Envelope, RcptResult};

const EX_USAGE: u8 = 64;
const EX_DATAERR: u8 = 65;
const EX_UNAVAILABLE: u8 = 69;
const EX_IOERR: u8 = 74;
const EX_TEMPFAIL: u8 = 75;
const EX_CONFIG: u8 = 78;

/// `moxide sendmail [--config FILE] [OPTIONS] [RECIPIENTS]`.
#[derive(clap::Args)]
pub struct SendmailCommand {
    /// sendmail options and recipients: -t (recipients from To/Cc/Bcc), -i/-oi (a "." line does
    /// not end the message), -f ADDR (envelope sender), -F NAME (full name for an added From),
    /// -v (verbose); -oem, -odi, -B, -N, -R and the like are accepted and ignored. --config FILE
    /// names the configuration (default $MOXIDE_SENDMAIL_CONFIG, else
    /// /etc/moxide/sendmail.toml).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    args: Vec<String>,
}

/// Runs `moxide sendmail`.
pub fn run(command: SendmailCommand) -> ExitCode {
    ExitCode::from(sendmail(&command.args, true))
}

/// Runs as `sendmail` (invoked through a link of that name): `args` come after the program name.
pub fn run_as_sendmail(args: Vec<OsString>) -> ExitCode {
    let args: Result<Vec<String>, OsString> = args.into_iter().map(OsString::into_string).collect();
    match args {
        Ok(args) => ExitCode::from(sendmail(&args, false)),
        Err(arg) => {
            eprintln!("sendmail: argument is not UTF-8: {}", arg.to_string_lossy());
            ExitCode::from(EX_USAGE)
        }
    }
}

fn fail(code: u8, what: impl std::fmt::Display) -> u8 {
    eprintln!("sendmail: {what}");
    code
}

fn sendmail(raw: &[String], allow_config: bool) -> u8 {
    let args = match args::parse(raw, allow_config) {
        Ok(a) => a,
        Err(e) => return fail(EX_USAGE, e),
    };
    let config = match config::load(&config::path(args.config.as_deref())) {
        Ok(c) => c,
        Err(e) => return fail(EX_CONFIG, e),
    };
    let message = match input::read_message(&mut std::io::stdin().lock(), args.ignore_dots) {
        Ok(m) => m,
        Err(e) => return fail(EX_IOERR, format_args!("reading the message: {e}")),
    };

    let mut recipients: Vec<Address> = Vec::new();
    let mut add = |a: Address| {
        if !recipients.iter().any(|r| r.lookup_key() == a.lookup_key()) {
            recipients.push(a);
        }
    };
    for arg in &args.recipients {
        for r in arg.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            match recipient(r, &config.from) {
                Ok(a) => add(a),
                Err(e) => return fail(EX_USAGE, format_args!("recipient {r:?}: {e}")),
            }
        }
    }
    if args.recipients_from_headers {
        for r in headers::recipients(&message) {
            match recipient(&r, &config.from) {
                Ok(a) => add(a),
                Err(e) => return fail(EX_DATAERR, format_args!("recipient {r:?} in header: {e}")),
            }
        }
    }
    if recipients.is_empty() {
        return fail(
            EX_USAGE,
            "no recipients (give them as arguments, or use -t for To, Cc and Bcc)",
        );
    }
    let mail_from = match args.sender.as_deref().map(sender) {
        None => Some(config.from.clone()),
        Some(Ok(s)) => s,
        Some(Err(e)) => return fail(EX_USAGE, format_args!("sender (-f): {e}")),
    };

    let from_field = headers::from_value(&config.from.to_string(), args.full_name.as_deref());
    let message = headers::prepare(&message, &from_field);
    let header_end = memchr::memmem::find(&message, b"\r\n\r\n").unwrap_or(message.len());
    let envelope = Envelope {
        smtputf8: !message[..header_end].is_ascii()
            || !recipients.iter().all(Address::is_ascii)
            || !mail_from.as_ref().is_none_or(Address::is_ascii),
        eight_bit: !message.is_ascii(),
        requiretls: false,
        mail_from,
        recipients,
    };

    let verbose = submit::Verbose(args.verbose);
    verbose.say(format_args!("configuration {}", config.file.display()));
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(submit::SubmitError::Runtime)
        .and_then(|runtime| {
            runtime.block_on(submit::submit(
                &config,
                &hostname(),
                &envelope,
                &message,
                &verbose,
            ))
        });
    let (code, failed) = match outcome {
        Ok(results) => judge(&results),
        Err(e) => {
            eprintln!("sendmail: submitting to {}: {e}", config.host);
            let code = if e.is_permanent() {
                EX_UNAVAILABLE
            } else {
                EX_TEMPFAIL
            };
            (code, envelope.recipients.clone())
        }
    };
    if !failed.is_empty() {
        match save::save(&message, envelope.mail_from.as_ref(), &failed) {
            Ok(path) => eprintln!(
                "sendmail: message saved in {} (envelope in {})",
                path.display(),
                path.with_extension("envelope").display()
            ),
            Err(e) => eprintln!("sendmail: the message could not be saved: {e}"),
        }
    }
    code
}

/// The exit code for the recipients' results, and the recipients that did not get the message
/// (each told on stderr).
fn judge(results: &[RcptResult]) -> (u8, Vec<Address>) {
    let mut failed = Vec::new();
    let mut temporary = false;
    for r in results {
        if let Err(e) = &r.result {
            eprintln!("sendmail: {}: not accepted: {e}", r.address);
            temporary |= !e.is_permanent();
            failed.push(r.address.clone());
        }
    }
    let code = match (failed.is_empty(), temporary) {
        (true, _) => 0,
        (false, true) => EX_TEMPFAIL,
        (false, false) => EX_UNAVAILABLE,
    };
    (code, failed)
}

/// A recipient argument: `addr`, `Name <addr>`, or a local user name such as cron's `root`,
/// which goes to the configured from address (this machine has no local mailboxes).
fn recipient(s: &str, from: &Address) -> Result<Address, crate::address::AddressError> {
    let s = angle_addr(s);
    if !s.contains('@') {
        return Ok(from.clone());
    }
    Address::parse_simple(s)
}

/// The `-f` sender: an address, or `<>` / empty for the null reverse-path.
fn sender(s: &str) -> Result<Option<Address>, crate::address::AddressError> {
    let s = angle_addr(s);
    if s.is_empty() {
        return Ok(None);
    }
    Address::parse_simple(s).map(Some)
}

/// The address inside `<...>` when there is one.
fn angle_addr(s: &str) -> &str {
    match (s.rfind('<'), s.rfind('>')) {
        (Some(open), Some(close)) if open < close => s[open + 1..close].trim(),
        _ => s.trim(),
    }
}

/// This machine's name for EHLO: the kernel's host name, else `localhost`.
fn hostname() -> String {
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 253
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    if let Ok(s) = std::fs::read_to_string("/proc/sys/kernel/hostname")
        && valid(s.trim())
    {
        return s.trim().to_string();
    }
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        if let Ok(s) = std::str::from_utf8(&buf[..end])
            && valid(s)
        {
            return s.to_string();
        }
    }
    "localhost".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_forms() {
        let from = Address::parse_simple("me@example.org").unwrap();
        let r = |s| recipient(s, &from).map(|a| a.to_string());
        assert_eq!(r("a@example.org").unwrap(), "a@example.org");
        assert_eq!(r("A <a@example.org>").unwrap(), "a@example.org");
        assert_eq!(r("root").unwrap(), "me@example.org");
        assert!(r("a@").is_err());
        assert_eq!(sender("<>").unwrap(), None);
        assert_eq!(
            sender("<b@example.org>").unwrap().map(|a| a.to_string()),
            Some("b@example.org".to_string())
        );
    }

    #[test]
    fn host_name() {
        let h = hostname();
        assert!(!h.is_empty());
    }
}
