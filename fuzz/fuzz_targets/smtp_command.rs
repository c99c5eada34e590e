//! One SMTP command line (without CRLF) into `parse_command`, which must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moxide::protocols::smtp::command::{Command, parse_command};

fuzz_target!(|data: &[u8]| {
    let Ok(cmd) = parse_command(data) else {
        return;
    };
    // Exercise what the session does with parsed addresses.
    match &cmd {
        Command::Mail { from: Some(a), .. } | Command::Rcpt { to: Some(a), .. } => {
            let _ = (a.to_string(), a.lookup_key(), a.log_ascii(), a.is_ascii());
        }
        _ => {}
    }
    let _ = format!("{cmd:?}");
});
