//! One generated account, written through [`AccountStore::apply`] as the account actor would:
//! mailboxes (nested, non-ASCII, one deleted, one renamed), subscriptions, a password, deliveries
//! and APPENDs with flags and keywords, copies, moves and expunges (so tombstones).

use crate::auth::{PasswordSecrets, prep};
use crate::store::server::ServerStore;
use crate::store::{
    AccountStore, DataDir, DeliveryMailbox, Expunge, FlagOp, Flags, MailboxId, SpecialUse,
    StoreFlags, Uid, WriteOp, WriteOutcome,
};

use super::GenError;
use super::messages::{Envelope, new_message};

/// What to generate for one account.
pub struct AccountSpec {
    pub name: &'static str,
    /// The address it logs in with and gets mail at.
    pub address: &'static str,
    /// Messages delivered over "SMTP" (more are appended).
    pub deliveries: usize,
    /// Where its message numbers start, so accounts do not share messages.
    pub first: usize,
}

/// Mailboxes created besides the default ones (parents are created with them).
pub const MAILBOXES: [&str; 6] = [
    "Lists/rust/announce",
    "Größe & Maß",
    "日本語/テスト",
    "Projects/2024",
    "Projects/2025",
    "Ελληνικά",
];

const SUBSCRIBED: [&str; 5] = [
    "INBOX",
    "Lists/rust",
    "Größe & Maß",
    "日本語/テスト",
    "Sent",
];

/// Messages per batch: deliveries are group-committed as the account actor does.
const BATCH: usize = 20;

pub struct Generated {
    /// (name, live messages, tombstones) of each mailbox.
    pub mailboxes: Vec<(String, u32, usize)>,
}

struct Writer<'a> {
    store: &'a AccountStore,
    hostname: &'a str,
}

impl Writer<'_> {
    fn apply(&self, ops: Vec<WriteOp>) -> Result<Vec<WriteOutcome>, GenError> {
        self.store
            .apply(ops)
            .outcomes
            .into_iter()
            .map(|o| {
                o.map_err(|error| GenError::Store {
                    what: format!("writing account {}", self.store.name()),
                    error,
                })
            })
            .collect()
    }

    fn mailbox(&self, name: &str) -> Result<MailboxId, GenError> {
        let store_err = |error| GenError::Store {
            what: format!("reading account {}", self.store.name()),
            error,
        };
        self.store
            .read()
            .map_err(store_err)?
            .mailbox(name)
            .map_err(store_err)?
            .map(|m| m.id)
            .ok_or_else(|| GenError::Missing(name.to_string()))
    }

    /// The live uids of `mailbox` for which `pick` says yes.
    fn uids(&self, mailbox: MailboxId, pick: impl Fn(u32) -> bool) -> Result<Vec<Uid>, GenError> {
        let store_err = |error| GenError::Store {
            what: format!("reading account {}", self.store.name()),
            error,
        };
        let r = self.store.read().map_err(store_err)?;
        let mut out = Vec::new();
        for m in r.live(mailbox).map_err(store_err)? {
            let m = m.map_err(store_err)?;
            if pick(m.uid.0) {
                out.push(m.uid);
            }
        }
        Ok(out)
    }

    fn flags(
        &self,
        mailbox: MailboxId,
        uids: Vec<Uid>,
        op: FlagOp,
        flags: Flags,
        keywords: &[&str],
    ) -> WriteOp {
        WriteOp::StoreFlags(StoreFlags {
            mailbox,
            uids,
            op,
            flags,
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            unchanged_since: None,
        })
    }
}

/// Generates the account of `spec` in `data`.
pub fn generate(
    data: &DataDir,
    server: &ServerStore,
    spec: &AccountSpec,
    hostname: &str,
    password: &str,
) -> Result<Generated, GenError> {
    let store_err = |what: &str| {
        let what = format!("{what} account {}", spec.name);
        move |error| GenError::Store { what, error }
    };
    let store =
        AccountStore::open(&data.account(spec.name), spec.name).map_err(store_err("opening"))?;
    server
        .register_account(spec.name)
        .map_err(store_err("registering"))?;
    let w = Writer {
        store: &store,
        hostname,
    };
    // Fixed salts: the same input gives the same bytes (test data only).
    let prepared = prep::prepare(password).map_err(|e| GenError::Password(e.to_string()))?;
    let salt = |n: u8| {
        let mut s = spec.name.as_bytes().to_vec();
        s.resize(16, n);
        s
    };
    let secrets = PasswordSecrets::derive_with_salts(&prepared, salt(1), salt(2));
    let mut ops = vec![WriteOp::SetPassword(secrets)];
    ops.extend(MAILBOXES.iter().map(|name| WriteOp::CreateMailbox {
        name: name.to_string(),
        special_use: SpecialUse::NONE,
    }));
    ops.extend(SUBSCRIBED.iter().map(|name| WriteOp::Subscribe {
        name: name.to_string(),
    }));
    w.apply(ops)?;

    deliver(&w, spec)?;
    append(&w, spec)?;
    change(&w)?;

    let r = store.read().map_err(store_err("reading"))?;
    let mut mailboxes = Vec::new();
    for mb in r.mailboxes().map_err(store_err("reading"))? {
        let tombstones = r
            .changed_since(mb.id, crate::store::ModSeq(0), true)
            .map_err(store_err("reading"))?
            .iter()
            .filter(|m| m.expunged)
            .count();
        mailboxes.push((mb.name, mb.counts.total, tombstones));
    }
    Ok(Generated { mailboxes })
}

/// Incoming mail, in group-committed batches: mostly INBOX, some to lists, some to Junk.
fn deliver(w: &Writer, spec: &AccountSpec) -> Result<(), GenError> {
    let from = "Sender <sender@example.org>";
    let env = Envelope {
        from,
        to: spec.address,
    };
    let ops: Vec<WriteOp> = (0..spec.deliveries)
        .map(|i| {
            let n = spec.first + i;
            let mailbox = match i % 13 {
                4 | 9 => DeliveryMailbox::Named("Lists/rust".into()),
                7 => DeliveryMailbox::Named("Lists/rust/announce".into()),
                11 => DeliveryMailbox::Junk,
                _ => DeliveryMailbox::inbox(),
            };
            WriteOp::Deliver {
                mailbox,
                message: new_message(n, &env, w.hostname, Flags::empty()),
                junk_score: None,
            }
        })
        .collect();
    let mut ops = ops.into_iter().peekable();
    while ops.peek().is_some() {
        w.apply(ops.by_ref().take(BATCH).collect())?;
    }
    Ok(())
}

/// APPENDs: sent mail, drafts, and mail filed into the other mailboxes.
fn append(w: &Writer, spec: &AccountSpec) -> Result<(), GenError> {
    let sent = Envelope {
        from: spec.address,
        to: "Friend <friend@example.org>",
    };
    let base = spec.first + spec.deliveries;
    let filed: [(&str, usize, Flags); 7] = [
        ("Sent", 12, Flags::SEEN),
        ("Drafts", 3, Flags::DRAFT),
        ("Größe & Maß", 6, Flags::SEEN.union(Flags::FLAGGED)),
        ("日本語/テスト", 4, Flags::empty()),
        ("Projects/2024", 5, Flags::SEEN),
        ("Projects/2025", 3, Flags::ANSWERED),
        ("Ελληνικά", 2, Flags::SEEN),
    ];
    let mut n = base;
    let mut ops = Vec::new();
    for (mailbox, count, flags) in filed {
        let messages = (0..count)
            .map(|_| {
                n += 1;
                let mut m = new_message(n, &sent, w.hostname, flags);
                if n.is_multiple_of(3) {
                    m.keywords = vec!["$label1".into(), "projekt".into()];
                }
                m
            })
            .collect();
        ops.push(WriteOp::Append {
            mailbox: mailbox.to_string(),
            messages,
        });
    }
    w.apply(ops)?;
    Ok(())
}

/// What users do afterwards: read and flag, copy, move, expunge, delete and rename mailboxes.
fn change(w: &Writer) -> Result<(), GenError> {
    let inbox = w.mailbox("INBOX")?;
    let archive = w.mailbox("Archive")?;
    let trash = w.mailbox("Trash")?;
    let lists = w.mailbox("Lists/rust")?;
    let umlaut = w.mailbox("Größe & Maß")?;
    w.apply(vec![
        w.flags(
            inbox,
            w.uids(inbox, |u| u % 3 != 0)?,
            FlagOp::Add,
            Flags::SEEN,
            &[],
        ),
        w.flags(
            inbox,
            w.uids(inbox, |u| u % 5 == 0)?,
            FlagOp::Add,
            Flags::FLAGGED,
            &[],
        ),
        w.flags(
            inbox,
            w.uids(inbox, |u| u % 7 == 0)?,
            FlagOp::Add,
            Flags::ANSWERED.union(Flags::FORWARDED),
            &[],
        ),
        w.flags(
            inbox,
            w.uids(inbox, |u| u % 4 == 1)?,
            FlagOp::Add,
            Flags::empty(),
            &["todo"],
        ),
        w.flags(
            inbox,
            w.uids(inbox, |u| u % 6 == 2)?,
            FlagOp::Add,
            Flags::empty(),
            &["projekt", "$label1"],
        ),
        w.flags(
            inbox,
            vec![Uid(2)],
            FlagOp::Replace,
            Flags::SEEN.union(Flags::MDNSENT),
            &["$label2"],
        ),
        w.flags(inbox, vec![Uid(4)], FlagOp::Remove, Flags::SEEN, &["todo"]),
        w.flags(
            lists,
            w.uids(lists, |_| true)?,
            FlagOp::Add,
            Flags::SEEN,
            &[],
        ),
    ])?;
    w.apply(vec![
        WriteOp::Copy {
            from: inbox,
            uids: w.uids(inbox, |u| u % 11 == 1)?,
            to: umlaut,
        },
        WriteOp::Move {
            from: inbox,
            uids: w.uids(inbox, |u| u % 8 == 3)?,
            to: archive,
        },
        WriteOp::Move {
            from: lists,
            uids: w.uids(lists, |u| u % 2 == 0)?,
            to: trash,
        },
    ])?;
    // Expunge: \Deleted then EXPUNGE in INBOX, UID EXPUNGE in Archive, everything in Trash
    // older than the newest two.
    w.apply(vec![w.flags(
        inbox,
        w.uids(inbox, |u| u % 10 == 0)?,
        FlagOp::Add,
        Flags::DELETED,
        &[],
    )])?;
    let archived = w.uids(archive, |_| true)?;
    let trashed = w.uids(trash, |_| true)?;
    w.apply(vec![
        WriteOp::Expunge {
            mailbox: inbox,
            which: Expunge::Deleted,
        },
        WriteOp::Expunge {
            mailbox: archive,
            which: Expunge::Uids(archived.into_iter().take(2).collect()),
        },
        WriteOp::Expunge {
            mailbox: trash,
            which: Expunge::Uids(
                trashed
                    .iter()
                    .take(trashed.len().saturating_sub(2))
                    .copied()
                    .collect(),
            ),
        },
    ])?;
    // One message left flagged \Deleted but not expunged, as clients leave them.
    w.apply(vec![
        w.flags(
            inbox,
            w.uids(inbox, |u| u % 10 == 9)?
                .into_iter()
                .take(1)
                .collect(),
            FlagOp::Add,
            Flags::DELETED,
            &[],
        ),
    ])?;
    let old_projects = w.mailbox("Projects/2024")?;
    let new_projects = w.mailbox("Projects/2025")?;
    w.apply(vec![
        WriteOp::DeleteMailbox {
            mailbox: old_projects,
        },
        WriteOp::RenameMailbox {
            mailbox: new_projects,
            to: "Projekte/2025".into(),
        },
        WriteOp::Unsubscribe {
            name: "Sent".into(),
        },
    ])?;
    Ok(())
}
