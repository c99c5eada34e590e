//! Training and untraining: adding one message's tokens to the counts, or taking them back.

use super::filter::{Totals, WordCounts, WordStore};

/// Write access to the trained counts of tokens.
pub trait WordStoreMut: WordStore {
    /// Stores `counts` for `token`; never called with 0/0 counts.
    fn put(&mut self, token: &str, counts: WordCounts) -> Result<(), Self::Error>;

    /// Removes `token`; called when its counts are back at 0/0.
    fn delete(&mut self, token: &str) -> Result<(), Self::Error>;
}

/// What a message was trained as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Ham,
    Spam,
}

/// Whether a message's tokens are added or taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainOp {
    Train,
    Untrain,
}

/// Adds (or with [`TrainOp::Untrain`] removes) one message of `class` with `tokens` to `store`
/// and `totals`.
///
/// `tokens` should be distinct (as [`crate::junk::tokenize`] returns them): each occurrence
/// counts. Counts and totals saturate at 0 and `u32::MAX`; untraining a token the store does not
/// have changes nothing. Changing a message from ham to spam is an untrain as ham followed by a
/// train as spam, in the same transaction.
pub fn train<S, I>(
    store: &mut S,
    totals: &mut Totals,
    tokens: I,
    class: Class,
    op: TrainOp,
) -> Result<(), S::Error>
where
    S: WordStoreMut + ?Sized,
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    for token in tokens {
        let token = token.as_ref();
        let old = store.get(token)?;
        let new = apply(old.unwrap_or_default(), class, op);
        if new == WordCounts::default() {
            if old.is_some() {
                store.delete(token)?;
            }
        } else if old != Some(new) {
            store.put(token, new)?;
        }
    }
    let total = match class {
        Class::Ham => &mut totals.ham,
        Class::Spam => &mut totals.spam,
    };
    *total = step(*total, op);
    Ok(())
}

fn apply(mut counts: WordCounts, class: Class, op: TrainOp) -> WordCounts {
    let n = match class {
        Class::Ham => &mut counts.ham,
        Class::Spam => &mut counts.spam,
    };
    *n = step(*n, op);
    counts
}

fn step(n: u32, op: TrainOp) -> u32 {
    match op {
        TrainOp::Train => n.saturating_add(1),
        TrainOp::Untrain => n.saturating_sub(1),
    }
}
