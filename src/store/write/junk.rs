//! The junk filter follows the messages: whenever a message's `$Junk`/`$NotJunk` flags change —
//! by AutomaticJunkFlags when it is delivered, appended, copied or moved, by a client's STORE,
//! or by expunge — its old training is taken back and the new one applied, in the same write
//! transaction as the change. Each message records how it was trained (`junk_trained`).

use std::sync::Arc;

use heed::RwTxn;

use crate::config::junk::{AutoJunkFlags, Category};
use crate::junk::{self, Class, TrainOp, train};
use crate::store::account::AccountStore;
use crate::store::ids::MessageId;
use crate::store::tables::junk::{self as tables, Trained, WordsWrite};
use crate::store::tables::mailboxes::{Mailbox, SpecialUse};
use crate::store::{Flags, StoreError};

/// Largest part of a message read for training: the filter learns from the start of a message
/// (its header and first text parts) and a huge attachment would only cost time.
const TRAIN_BYTES: u64 = 1 << 20;

/// The training a message's flags call for.
pub fn wanted(flags: Flags, expunged: bool) -> Option<Class> {
    if expunged {
        None
    } else if flags.contains(Flags::JUNK) {
        Some(Class::Spam)
    } else if flags.contains(Flags::NOTJUNK) {
        Some(Class::Ham)
    } else {
        None
    }
}

impl AccountStore {
    /// Sets the AutomaticJunkFlags used by the next writes (None: off).
    pub fn set_junk_flags(&self, flags: Option<Arc<AutoJunkFlags>>) {
        match self.junk_flags.write() {
            Ok(mut g) => *g = flags,
            Err(poisoned) => *poisoned.into_inner() = flags,
        }
    }

    fn auto_junk_flags(&self) -> Option<Arc<AutoJunkFlags>> {
        match self.junk_flags.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// `flags` of a message put into `mailbox`, with `$Junk`/`$NotJunk` as the mailbox says.
    pub(super) fn flags_for_mailbox(&self, mailbox: &Mailbox, flags: Flags) -> Flags {
        let Some(auto) = self.auto_junk_flags() else {
            return flags;
        };
        match auto.category(
            &mailbox.name,
            mailbox.special_use.contains(SpecialUse::JUNK),
        ) {
            Category::Junk => flags.without(Flags::NOTJUNK).union(Flags::JUNK),
            Category::NotJunk => flags.without(Flags::JUNK).union(Flags::NOTJUNK),
            Category::Neutral => flags,
        }
    }

    /// Brings the training of message `id` in line with its flags.
    pub(super) fn junk_follow(
        &self,
        txn: &mut RwTxn,
        id: MessageId,
        flags: Flags,
        expunged: bool,
    ) -> Result<(), StoreError> {
        let want = wanted(flags, expunged);
        let mut record = tables::trained(&self.junk_trained, txn, id)?;
        if record.class == want {
            return Ok(());
        }
        let tokens = self.junk_tokens(id);
        let mut totals = tables::totals(&self.meta, txn)?;
        {
            let mut words = WordsWrite {
                db: &self.junk_words,
                txn,
            };
            if let Some(class) = record.class {
                train(&mut words, &mut totals, &tokens, class, TrainOp::Untrain)?;
            }
            if let Some(class) = want {
                train(&mut words, &mut totals, &tokens, class, TrainOp::Train)?;
            }
        }
        tables::put_totals(&self.meta, txn, totals)?;
        record.class = want;
        tables::put_trained(&self.junk_trained, txn, id, record)
    }

    /// Records the score a message got at delivery.
    pub(super) fn junk_record_score(
        &self,
        txn: &mut RwTxn,
        id: MessageId,
        score: f64,
    ) -> Result<(), StoreError> {
        let mut record = tables::trained(&self.junk_trained, txn, id)?;
        record.score = Some(score);
        tables::put_trained(&self.junk_trained, txn, id, record)
    }

    /// Forgets all training: token counts, totals, and each message's training (its score at
    /// delivery stays).
    pub(super) fn junk_reset(&self, txn: &mut RwTxn) -> Result<(), StoreError> {
        self.junk_words.clear(txn)?;
        tables::put_totals(&self.meta, txn, crate::junk::Totals::default())?;
        let mut scores = Vec::new();
        for item in self.junk_trained.iter(txn)? {
            let (id, _) = item?;
            scores.push((id, tables::trained(&self.junk_trained, txn, id)?.score));
        }
        for (id, score) in scores {
            tables::put_trained(&self.junk_trained, txn, id, Trained { class: None, score })?;
        }
        Ok(())
    }

    /// Trains the messages `ids` (those still live) as their flags say; answers how many.
    pub(super) fn junk_train_ids(
        &self,
        txn: &mut RwTxn,
        ids: &[MessageId],
    ) -> Result<usize, StoreError> {
        let mut n = 0;
        for id in ids {
            let Some((mailbox, uid)) = self.messages.locate(txn, *id)? else {
                continue;
            };
            let Some(m) = self.messages.get_live(txn, mailbox, uid)? else {
                continue;
            };
            self.junk_follow(txn, m.id, m.flags, false)?;
            n += 1;
        }
        Ok(n)
    }

    /// Forgets a message that is gone for good (its training was taken back already).
    pub(super) fn junk_forget(&self, txn: &mut RwTxn, id: MessageId) -> Result<(), StoreError> {
        tables::put_trained(&self.junk_trained, txn, id, Trained::default())
    }

    /// The tokens of a stored message; none when its file cannot be read (the message then
    /// trains nothing, and untrains nothing either, which keeps the counts consistent).
    fn junk_tokens(&self, id: MessageId) -> Vec<String> {
        use std::io::Read;
        let mut data = Vec::new();
        let read = std::fs::File::open(self.files.path(id))
            .and_then(|f| f.take(TRAIN_BYTES).read_to_end(&mut data));
        if let Err(e) = read {
            tracing::warn!(account = %self.name, id = id.0, error = %e, "reading a message to train the junk filter");
            return Vec::new();
        }
        junk::tokenize(&junk::Params::default(), &data)
            .into_iter()
            .collect()
    }
}
