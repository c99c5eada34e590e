//! The ENVELOPE fetch item (RFC 9051 §7.5.2, §9 `envelope`), written from the envelope stored
//! with the message's part tree.

use std::borrow::Cow;

use super::encoded_word::encode_text;
use super::response::{ntext, text};
use crate::store::parts::{Envelope, EnvelopeAddress, Part};

/// The ENVELOPE of the message whose parts are `parts` (its root's envelope). With `utf8` false
/// (the client has not enabled UTF8=ACCEPT, RFC 6855) non-ASCII names and subjects go out as
/// RFC 2047 encoded-words and internationalized domains as A-labels.
pub fn envelope(parts: &[Part], utf8: bool) -> Vec<u8> {
    let mut out = Vec::new();
    write_envelope(
        &mut out,
        parts.first().and_then(|p| p.envelope.as_ref()),
        utf8,
    );
    out
}

/// Appends `env` as an envelope structure; None (a message whose header could not be parsed)
/// is an envelope of NILs.
pub fn write_envelope(out: &mut Vec<u8>, env: Option<&Envelope>, utf8: bool) {
    let Some(env) = env else {
        out.extend_from_slice(b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
        return;
    };
    out.push(b'(');
    ntext(out, env.date.as_deref(), utf8);
    out.push(b' ');
    ntext(
        out,
        env.subject.as_deref().map(|s| phrase(s, utf8)).as_deref(),
        utf8,
    );
    // RFC 9051 §7.5.2: an absent or empty Sender or Reply-To is sent as the From value.
    let sender = if env.sender.is_empty() {
        &env.from
    } else {
        &env.sender
    };
    let reply_to = if env.reply_to.is_empty() {
        &env.from
    } else {
        &env.reply_to
    };
    for list in [&env.from[..], sender, reply_to, &env.to, &env.cc, &env.bcc] {
        out.push(b' ');
        address_list(out, list, utf8);
    }
    out.push(b' ');
    ntext(out, env.in_reply_to.as_deref(), utf8);
    out.push(b' ');
    ntext(out, env.message_id.as_deref(), utf8);
    out.push(b')');
}

/// Unstructured text (a subject, a display name) for the client: as it is with `utf8`, else with
/// non-ASCII words as encoded-words.
pub(super) fn phrase(s: &str, utf8: bool) -> Cow<'_, str> {
    if utf8 {
        Cow::Borrowed(s)
    } else {
        encode_text(s)
    }
}

/// `(addr addr ...)`, or NIL for an empty list (RFC 9051 §9 `env-from` and the others).
///
/// The stored list marks a group start as an entry with only a mailbox (the group name) and a
/// group end as an empty entry. A start only counts as one when its end follows, and groups do
/// not nest (RFC 5322 §3.4): anything else that lacks a host is a malformed address, sent with an
/// empty host, since a NIL host would tell the client a group starts or ends there.
fn address_list(out: &mut Vec<u8>, list: &[EnvelopeAddress], utf8: bool) {
    let is_end = |a: &EnvelopeAddress| a.name.is_none() && a.mailbox.is_none() && a.host.is_none();
    let mut written = 0;
    let mut in_group = false;
    for (i, a) in list.iter().enumerate() {
        let group_start = !in_group
            && a.name.is_none()
            && a.mailbox.is_some()
            && a.host.is_none()
            && list.get(i + 1..).unwrap_or_default().iter().any(is_end);
        if is_end(a) && !in_group {
            continue;
        }
        out.extend_from_slice(if written == 0 { b"(" } else { b"" });
        written += 1;
        if group_start {
            in_group = true;
            out.extend_from_slice(b"(NIL NIL ");
            ntext(
                out,
                a.mailbox.as_deref().map(|m| phrase(m, utf8)).as_deref(),
                utf8,
            );
            out.extend_from_slice(b" NIL)");
        } else if is_end(a) {
            in_group = false;
            out.extend_from_slice(b"(NIL NIL NIL NIL)");
        } else {
            address(out, a, utf8);
        }
    }
    if written == 0 {
        out.extend_from_slice(b"NIL");
    } else {
        if in_group {
            out.extend_from_slice(b"(NIL NIL NIL NIL)");
        }
        out.push(b')');
    }
}

/// `(name adl mailbox host)` for one mailbox (RFC 9051 §9 `address`).
fn address(out: &mut Vec<u8>, a: &EnvelopeAddress, utf8: bool) {
    out.push(b'(');
    let name = a.name.as_deref().filter(|n| !n.is_empty());
    ntext(out, name.map(|n| phrase(n, utf8)).as_deref(), utf8);
    out.push(b' ');
    // An obsolete source route (RFC 5322 §4.4 obs-route) is kept before the local part.
    let mailbox = a.mailbox.as_deref().unwrap_or_default();
    let (adl, mailbox) = match mailbox.split_once(':') {
        Some((route, local)) if route.starts_with('@') => (Some(route), local),
        _ => (None, mailbox),
    };
    ntext(out, adl, utf8);
    out.push(b' ');
    // A non-ASCII local part has no ASCII form; without `utf8` it goes out as a literal.
    text(out, mailbox, utf8);
    out.push(b' ');
    let host = a.host.as_deref().unwrap_or_default();
    text(out, &domain(host, utf8), utf8);
    out.push(b')');
}

/// An internationalized domain as its A-labels (RFC 5890) for a client that takes no UTF-8.
fn domain(host: &str, utf8: bool) -> Cow<'_, str> {
    if utf8 || host.is_ascii() {
        return Cow::Borrowed(host);
    }
    match idna::domain_to_ascii(host) {
        Ok(ascii) => Cow::Owned(ascii),
        Err(_) => Cow::Borrowed(host),
    }
}

#[cfg(test)]
mod tests;
