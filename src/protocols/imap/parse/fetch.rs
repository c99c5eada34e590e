//! FETCH and UID FETCH arguments (RFC 9051 §6.4.5; CHANGEDSINCE from RFC 7162 §3.1.4, SAVEDATE
//! from RFC 8514).

use super::CommandKind;
use super::cursor::{Cursor, PResult};
use crate::protocols::imap::types::{FetchItem, Section, SectionPart};

impl Cursor<'_> {
    pub(super) fn fetch(&mut self, uid: bool) -> PResult<CommandKind> {
        self.sp()?;
        let set = self.seq_set()?;
        self.sp()?;
        let mut items = Vec::new();
        if self.take(b'(') {
            loop {
                items.push(self.fetch_item()?);
                if self.take(b')') {
                    break;
                }
                self.sp()?;
            }
        } else {
            let save = self.pos;
            match self.keyword()?.as_str() {
                "FAST" => items.extend([
                    FetchItem::Flags,
                    FetchItem::InternalDate,
                    FetchItem::Rfc822Size,
                ]),
                name @ ("ALL" | "FULL") => {
                    items.extend([
                        FetchItem::Flags,
                        FetchItem::InternalDate,
                        FetchItem::Rfc822Size,
                        FetchItem::Envelope,
                    ]);
                    if name == "FULL" {
                        items.push(FetchItem::BodyStructure { extensions: false });
                    }
                }
                _ => {
                    self.pos = save;
                    items.push(self.fetch_item()?);
                }
            }
        }
        let mut changed_since = None;
        let mut vanished = false;
        if self.take(b' ') {
            // RFC 7162 §3.1.4 (CHANGEDSINCE modseq) and §3.2.6 (VANISHED).
            self.expect(b'(')?;
            loop {
                match self.keyword()?.as_str() {
                    "CHANGEDSINCE" => {
                        self.sp()?;
                        changed_since = Some(self.number()?);
                    }
                    "VANISHED" => vanished = true,
                    other => return Err(format!("unsupported FETCH modifier {other}")),
                }
                if self.take(b')') {
                    break;
                }
                self.sp()?;
            }
            if vanished && (!uid || changed_since.is_none()) {
                return Err("VANISHED needs UID FETCH with CHANGEDSINCE".into());
            }
        }
        if uid && !items.contains(&FetchItem::Uid) {
            // RFC 9051 §6.4.9: UID FETCH always returns the UID.
            items.insert(0, FetchItem::Uid);
        }
        if changed_since.is_some() && !items.contains(&FetchItem::ModSeq) {
            items.push(FetchItem::ModSeq);
        }
        Ok(CommandKind::Fetch {
            uid,
            set,
            items,
            changed_since,
            vanished,
        })
    }

    pub(super) fn fetch_item(&mut self) -> PResult<FetchItem> {
        let name = self.keyword()?;
        Ok(match name.as_str() {
            "UID" => FetchItem::Uid,
            "FLAGS" => FetchItem::Flags,
            "RFC822.SIZE" => FetchItem::Rfc822Size,
            "INTERNALDATE" => FetchItem::InternalDate,
            "MODSEQ" => FetchItem::ModSeq,
            "SAVEDATE" => FetchItem::SaveDate,
            "ENVELOPE" => FetchItem::Envelope,
            "BODYSTRUCTURE" => FetchItem::BodyStructure { extensions: true },
            "RFC822" => FetchItem::Body {
                section: Section::default(),
                partial: None,
                peek: false,
                rfc822: Some("RFC822"),
            },
            "RFC822.HEADER" => FetchItem::Body {
                section: Section {
                    part: vec![],
                    spec: Some(SectionPart::Header),
                },
                partial: None,
                peek: true,
                rfc822: Some("RFC822.HEADER"),
            },
            "RFC822.TEXT" => FetchItem::Body {
                section: Section {
                    part: vec![],
                    spec: Some(SectionPart::Text),
                },
                partial: None,
                peek: false,
                rfc822: Some("RFC822.TEXT"),
            },
            "BODY" | "BODY.PEEK" if self.peek() == Some(b'[') => {
                let section = self.section()?;
                let partial = self.partial()?;
                FetchItem::Body {
                    section,
                    partial,
                    peek: name == "BODY.PEEK",
                    rfc822: None,
                }
            }
            "BODY" => FetchItem::BodyStructure { extensions: false },
            "BINARY" | "BINARY.PEEK" => {
                let part = self.section_binary()?;
                let partial = self.partial()?;
                FetchItem::Binary {
                    part,
                    partial,
                    peek: name == "BINARY.PEEK",
                }
            }
            "BINARY.SIZE" => FetchItem::BinarySize {
                part: self.section_binary()?,
            },
            other => return Err(format!("unsupported fetch attribute {other}")),
        })
    }

    /// `section-binary`: `[` part numbers joined by `.` `]`, nothing else (RFC 9051 §9).
    pub(super) fn section_binary(&mut self) -> PResult<Vec<u32>> {
        self.expect(b'[')?;
        let mut part = Vec::new();
        if self.take(b']') {
            return Ok(part);
        }
        loop {
            part.push(self.nz_number()?);
            if self.take(b']') {
                return Ok(part);
            }
            self.expect(b'.')?;
        }
    }

    pub(super) fn section(&mut self) -> PResult<Section> {
        self.expect(b'[')?;
        let mut part = Vec::new();
        let mut spec = None;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            part.push(self.nz_number()?);
            if !self.take(b'.') {
                break;
            }
        }
        if self.peek() != Some(b']') {
            let name = self.keyword()?;
            spec = Some(match name.as_str() {
                "HEADER" => SectionPart::Header,
                "TEXT" => SectionPart::Text,
                "MIME" if !part.is_empty() => SectionPart::Mime,
                "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
                    self.sp()?;
                    self.expect(b'(')?;
                    let mut fields = Vec::new();
                    loop {
                        fields.push(self.astring()?);
                        if self.take(b')') {
                            break;
                        }
                        self.sp()?;
                    }
                    if name == "HEADER.FIELDS" {
                        SectionPart::HeaderFields(fields)
                    } else {
                        SectionPart::HeaderFieldsNot(fields)
                    }
                }
                other => return Err(format!("invalid section {other}")),
            });
        }
        self.expect(b']')?;
        Ok(Section { part, spec })
    }

    pub(super) fn partial(&mut self) -> PResult<Option<(u32, u32)>> {
        if !self.take(b'<') {
            return Ok(None);
        }
        let start = u32::try_from(self.number()?).map_err(|_| "partial offset too large")?;
        self.expect(b'.')?;
        let len = self.nz_number()?;
        self.expect(b'>')?;
        Ok(Some((start, len)))
    }
}
