//! Token counts kept in memory, for tests and benchmarks.

use std::collections::HashMap;
use std::convert::Infallible;

use super::filter::{WordCounts, WordStore};
use super::train::WordStoreMut;

/// A [`WordStore`] in a `HashMap`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStore {
    words: HashMap<String, WordCounts>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of tokens with counts.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Every token and its counts, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, WordCounts)> {
        self.words.iter().map(|(t, c)| (t.as_str(), *c))
    }
}

impl WordStore for MemoryStore {
    type Error = Infallible;

    fn get(&self, token: &str) -> Result<Option<WordCounts>, Infallible> {
        Ok(self.words.get(token).copied())
    }
}

impl WordStoreMut for MemoryStore {
    fn put(&mut self, token: &str, counts: WordCounts) -> Result<(), Infallible> {
        match self.words.get_mut(token) {
            Some(c) => *c = counts,
            None => {
                self.words.insert(token.to_owned(), counts);
            }
        }
        Ok(())
    }

    fn delete(&mut self, token: &str) -> Result<(), Infallible> {
        self.words.remove(token);
        Ok(())
    }
}
