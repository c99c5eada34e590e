//! The per-account bayesian junk filter: turning a message into tokens, scoring tokens against
//! trained counts, and training (and untraining) those counts.
//!
//! Everything here is pure: no I/O, no global state. The counts live wherever the caller keeps
//! them (the account's `junk_words` table in LMDB, or [`MemoryStore`] in tests and benchmarks),
//! reached through the [`WordStore`] and [`WordStoreMut`] traits, so scoring runs in a read
//! transaction and training inside the account actor's write transaction.
//!
//! # Model
//!
//! The filter is the token-count scheme Paul Graham described in "A Plan for Spam" (2002), with
//! the combining rule Gary Robinson proposed in "A Statistical Approach to the Spam Problem"
//! (Linux Journal, 2003):
//!
//! - For each token `w` the store holds how many trained ham and spam messages contained it
//!   (`h(w)`, `s(w)`), and the totals hold how many ham and spam messages were trained (`H`, `S`).
//! - The spam probability of a token is the share of spam among its normalised frequencies:
//!   `p(w) = (s/S) / (s/S + h/H)`, clamped to `[max_power, 1 - max_power]` so one token can
//!   never decide a message on its own. Tokens seen in at most `rare_words` trained messages
//!   carry no evidence yet and count as unknown (on the SpamAssassin corpus, skipping only
//!   tokens seen once let words from two ham messages outvote clear spam).
//! - Tokens whose probability lies within `ignore_words` of 0.5 say little and are left out.
//!   Of the rest, the `top_words` most spammy and the `top_words` most hammy are kept.
//! - They are combined as if independent: `η = Σ [ln(1 - p) - ln(p)]` and the message's spam
//!   probability is `1 / (1 + e^η)` (the log form avoids the underflow of multiplying many small
//!   probabilities). With no significant token the result is 0.5.
//! - A message is junk when that probability reaches `threshold`, but only once at least
//!   `min_ham_trained` ham messages were trained: before that, one-sided training would make
//!   everything look like spam.
//!
//! Training adds (or, when a user changes their mind, removes) one message's tokens: each
//! distinct token once per message, counts never below zero, and a token back at 0/0 deleted.
//!
//! See [`tokenize`] for what the tokens of a message are.

mod filter;
mod memory;
mod tokenize;
mod train;

#[cfg(test)]
mod tests;

pub use filter::{Params, Score, Totals, WordCounts, WordStore, classify};
pub use memory::MemoryStore;
pub use tokenize::{MAX_NESTED, MAX_WORD, tokenize};
pub use train::{Class, TrainOp, WordStoreMut, train};
