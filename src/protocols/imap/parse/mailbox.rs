//! Mailbox commands (RFC 9051 §6.3): SELECT/EXAMINE (with CONDSTORE and QRESYNC parameters,
//! RFC 7162), CREATE (with USE, RFC 6154), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST (with
//! LIST-EXTENDED, RFC 5258, and LIST-STATUS, RFC 5819), LSUB and STATUS.

use super::CommandKind;
use super::cursor::{Cursor, PResult};
use crate::protocols::imap::types::SeqSet;

/// SELECT or EXAMINE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectCommand {
    pub mailbox: String,
    /// EXAMINE.
    pub read_only: bool,
    pub condstore: bool,
    pub qresync: Option<Qresync>,
}

/// `QRESYNC (uidvalidity modseq [known-uids [(seq-set uid-set)]])` (RFC 7162 §3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qresync {
    pub uidvalidity: u32,
    pub modseq: u64,
    pub known_uids: Option<SeqSet>,
    pub seq_match: Option<(SeqSet, SeqSet)>,
}

/// What STATUS (and LIST RETURN (STATUS ...)) can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    Messages,
    UidNext,
    UidValidity,
    Unseen,
    Deleted,
    Size,
    Recent,
    HighestModSeq,
    AppendLimit,
}

impl StatusItem {
    pub fn name(self) -> &'static str {
        match self {
            StatusItem::Messages => "MESSAGES",
            StatusItem::UidNext => "UIDNEXT",
            StatusItem::UidValidity => "UIDVALIDITY",
            StatusItem::Unseen => "UNSEEN",
            StatusItem::Deleted => "DELETED",
            StatusItem::Size => "SIZE",
            StatusItem::Recent => "RECENT",
            StatusItem::HighestModSeq => "HIGHESTMODSEQ",
            StatusItem::AppendLimit => "APPENDLIMIT",
        }
    }
}

/// LIST, LIST-EXTENDED, or LSUB (`lsub`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListCommand {
    pub lsub: bool,
    pub reference: String,
    pub patterns: Vec<String>,
    /// Selection options (RFC 5258 §3.1).
    pub select_subscribed: bool,
    pub select_special_use: bool,
    pub recursive_match: bool,
    /// Return options (RFC 5258 §3.2, RFC 6154, RFC 5819).
    pub return_subscribed: bool,
    pub return_children: bool,
    pub return_special_use: bool,
    pub return_status: Option<Vec<StatusItem>>,
    /// The extended form was used: answer in its style (e.g. CHILDINFO).
    pub extended: bool,
}

impl Cursor<'_> {
    pub(super) fn select(&mut self, read_only: bool) -> PResult<CommandKind> {
        self.sp()?;
        let mailbox = self.mailbox()?;
        let mut cmd = SelectCommand {
            mailbox,
            read_only,
            condstore: false,
            qresync: None,
        };
        if self.take(b' ') {
            self.expect(b'(')?;
            loop {
                match self.keyword()?.as_str() {
                    "CONDSTORE" => cmd.condstore = true,
                    "QRESYNC" => {
                        self.sp()?;
                        cmd.qresync = Some(self.qresync()?);
                    }
                    other => return Err(format!("unsupported SELECT parameter {other}")),
                }
                if self.take(b')') {
                    break;
                }
                self.sp()?;
            }
        }
        Ok(CommandKind::Select(cmd))
    }

    fn qresync(&mut self) -> PResult<Qresync> {
        self.expect(b'(')?;
        let uidvalidity = self.nz_number()?;
        self.sp()?;
        let modseq = self.number()?;
        if modseq == 0 {
            return Err("QRESYNC modseq must be more than 0".into());
        }
        let mut q = Qresync {
            uidvalidity,
            modseq,
            known_uids: None,
            seq_match: None,
        };
        if self.take(b' ') {
            if self.peek() == Some(b'(') {
                q.seq_match = Some(self.seq_match()?);
            } else {
                q.known_uids = Some(self.seq_set()?);
                if self.take(b' ') {
                    q.seq_match = Some(self.seq_match()?);
                }
            }
        }
        self.expect(b')')?;
        Ok(q)
    }

    fn seq_match(&mut self) -> PResult<(SeqSet, SeqSet)> {
        self.expect(b'(')?;
        let seqs = self.seq_set()?;
        self.sp()?;
        let uids = self.seq_set()?;
        self.expect(b')')?;
        Ok((seqs, uids))
    }

    /// `CREATE name [(USE (\Drafts ...))]`.
    pub(super) fn create(&mut self) -> PResult<CommandKind> {
        self.sp()?;
        let mailbox = self.mailbox()?;
        let mut special_use = Vec::new();
        if self.take(b' ') {
            self.expect(b'(')?;
            match self.keyword()?.as_str() {
                "USE" => {}
                other => return Err(format!("unsupported CREATE parameter {other}")),
            }
            self.sp()?;
            self.expect(b'(')?;
            loop {
                if self.take(b')') {
                    break;
                }
                self.expect(b'\\')?;
                special_use.push(format!("\\{}", self.atom()?));
                if !self.take(b' ') {
                    self.expect(b')')?;
                    break;
                }
            }
            self.expect(b')')?;
        }
        Ok(CommandKind::Create {
            mailbox,
            special_use,
        })
    }

    pub(super) fn status(&mut self) -> PResult<CommandKind> {
        self.sp()?;
        let mailbox = self.mailbox()?;
        self.sp()?;
        let items = self.status_items()?;
        Ok(CommandKind::Status { mailbox, items })
    }

    fn status_items(&mut self) -> PResult<Vec<StatusItem>> {
        self.expect(b'(')?;
        let mut items = Vec::new();
        loop {
            let item = match self.keyword()?.as_str() {
                "MESSAGES" => StatusItem::Messages,
                "UIDNEXT" => StatusItem::UidNext,
                "UIDVALIDITY" => StatusItem::UidValidity,
                "UNSEEN" => StatusItem::Unseen,
                "DELETED" => StatusItem::Deleted,
                "SIZE" => StatusItem::Size,
                "RECENT" => StatusItem::Recent,
                "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
                "APPENDLIMIT" => StatusItem::AppendLimit,
                other => return Err(format!("unknown STATUS item {other}")),
            };
            if !items.contains(&item) {
                items.push(item);
            }
            if self.take(b')') {
                return Ok(items);
            }
            self.sp()?;
        }
    }

    /// A LIST pattern: a mailbox name that may hold the wildcards * and % (list-mailbox).
    fn list_mailbox(&mut self) -> PResult<String> {
        match self.peek() {
            Some(b'"' | b'{' | b'~') => String::from_utf8(self.string_bytes()?)
                .map_err(|_| "pattern is not UTF-8".to_string()),
            _ => {
                let a = self.take_while(|b| {
                    super::cursor::is_atom_char(b) || b == b'%' || b == b'*' || b == b']'
                });
                if a.is_empty() {
                    return Err(format!(
                        "expected a mailbox pattern at position {}",
                        self.pos
                    ));
                }
                Ok(String::from_utf8_lossy(a).into_owned())
            }
        }
    }

    pub(super) fn list(&mut self, lsub: bool) -> PResult<CommandKind> {
        let mut cmd = ListCommand {
            lsub,
            ..ListCommand::default()
        };
        self.sp()?;
        if !lsub && self.take(b'(') {
            cmd.extended = true;
            while !self.take(b')') {
                match self.keyword()?.as_str() {
                    "SUBSCRIBED" => cmd.select_subscribed = true,
                    "REMOTE" => {}
                    "RECURSIVEMATCH" => cmd.recursive_match = true,
                    "SPECIAL-USE" => cmd.select_special_use = true,
                    other => return Err(format!("unknown LIST selection option {other}")),
                }
                self.take(b' ');
            }
            if cmd.recursive_match && !cmd.select_subscribed && !cmd.select_special_use {
                // RFC 5258 §3.1: RECURSIVEMATCH needs another selection option.
                return Err("RECURSIVEMATCH needs another selection option".into());
            }
            self.sp()?;
        }
        cmd.reference = match self.peek() {
            Some(b'"' | b'{' | b'~') => String::from_utf8(self.string_bytes()?)
                .map_err(|_| "reference is not UTF-8".to_string())?,
            _ => self.astring()?,
        };
        self.sp()?;
        if !lsub && self.take(b'(') {
            cmd.extended = true;
            loop {
                cmd.patterns.push(self.list_mailbox()?);
                if self.take(b')') {
                    break;
                }
                self.sp()?;
            }
        } else {
            cmd.patterns.push(self.list_mailbox()?);
        }
        if !lsub && self.take(b' ') {
            cmd.extended = true;
            match self.keyword()?.as_str() {
                "RETURN" => {}
                other => return Err(format!("expected RETURN, not {other}")),
            }
            self.sp()?;
            self.expect(b'(')?;
            while !self.take(b')') {
                match self.keyword()?.as_str() {
                    "SUBSCRIBED" => cmd.return_subscribed = true,
                    "CHILDREN" => cmd.return_children = true,
                    "SPECIAL-USE" => cmd.return_special_use = true,
                    "STATUS" => {
                        self.sp()?;
                        cmd.return_status = Some(self.status_items()?);
                    }
                    other => return Err(format!("unknown LIST return option {other}")),
                }
                self.take(b' ');
            }
        }
        Ok(CommandKind::List(cmd))
    }
}
