//! STORE and UID STORE arguments (RFC 9051 §6.4.6; UNCHANGEDSINCE from RFC 7162 §3.1.3).

use super::cursor::{Cursor, PResult};
use super::{CommandKind, StoreCommand};
use crate::protocols::imap::types::StoreAction;
use crate::store::Flags;

impl Cursor<'_> {
    pub(super) fn store(&mut self, uid: bool) -> PResult<CommandKind> {
        self.sp()?;
        let set = self.seq_set()?;
        self.sp()?;
        let mut unchanged_since = None;
        if self.take(b'(') {
            // RFC 7162 §3.1.3.
            match self.keyword()?.as_str() {
                "UNCHANGEDSINCE" => {
                    self.sp()?;
                    unchanged_since = Some(self.number()?);
                }
                other => return Err(format!("unsupported STORE modifier {other}")),
            }
            self.expect(b')')?;
            self.sp()?;
        }
        let action = if self.take(b'+') {
            StoreAction::Add
        } else if self.take(b'-') {
            StoreAction::Remove
        } else {
            StoreAction::Replace
        };
        let silent = match self.keyword()?.as_str() {
            "FLAGS" => false,
            "FLAGS.SILENT" => true,
            other => return Err(format!("expected FLAGS or FLAGS.SILENT, not {other}")),
        };
        self.sp()?;
        let (flags, keywords) = self.flag_list()?;
        Ok(CommandKind::Store(StoreCommand {
            uid,
            set,
            unchanged_since,
            action,
            silent,
            flags,
            keywords,
        }))
    }

    /// `(flag ...)` or flags separated by spaces without parentheses (RFC 9051 §6.4.6).
    pub(super) fn flag_list(&mut self) -> PResult<(Flags, Vec<String>)> {
        let parens = self.take(b'(');
        let mut flags = Flags::empty();
        let mut keywords: Vec<String> = Vec::new();
        loop {
            if parens && self.take(b')') {
                break;
            }
            let system = self.take(b'\\');
            let name = self.atom()?;
            if system {
                let full = format!("\\{name}");
                match Flags::from_name(&full) {
                    Some(f) if !full.eq_ignore_ascii_case("\\Recent") => flags = flags.union(f),
                    _ => return Err(format!("unknown system flag {full}")),
                }
            } else if let Some(f) = Flags::from_name(&name) {
                flags = flags.union(f);
            } else if !keywords.iter().any(|k| k.eq_ignore_ascii_case(&name)) {
                keywords.push(name);
            }
            if self.eof() && !parens {
                break;
            }
            if parens && self.take(b')') {
                break;
            }
            self.sp()?;
        }
        Ok((flags, keywords))
    }
}
