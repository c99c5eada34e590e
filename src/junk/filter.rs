//! Scoring a message's tokens against trained counts.

use std::cmp::Ordering;

/// How many trained ham and spam messages contained a token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WordCounts {
    pub ham: u32,
    pub spam: u32,
}

impl WordCounts {
    /// Messages (of either kind) that contained the token.
    pub fn total(self) -> u64 {
        u64::from(self.ham) + u64::from(self.spam)
    }
}

/// How many ham and spam messages were trained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub ham: u32,
    pub spam: u32,
}

/// Settings of the filter; [`Params::default`] holds the values mox ships with.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// A message whose spam probability is at least this is junk.
    pub threshold: f64,
    /// Single words are tokens.
    pub onegrams: bool,
    /// Pairs of consecutive words are tokens.
    pub twograms: bool,
    /// Triples of consecutive words are tokens.
    pub threegrams: bool,
    /// Token probabilities are clamped to `[max_power, 1 - max_power]`.
    pub max_power: f64,
    /// How many of the most spammy, and of the most hammy, tokens are combined.
    pub top_words: usize,
    /// Tokens whose probability is within this of 0.5 are ignored.
    pub ignore_words: f64,
    /// Tokens found in at most this many trained messages are treated as unknown.
    pub rare_words: u32,
    /// Below this many trained ham messages no message is called junk.
    pub min_ham_trained: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            threshold: 0.95,
            onegrams: true,
            twograms: false,
            threegrams: false,
            max_power: 0.01,
            top_words: 10,
            ignore_words: 0.1,
            rare_words: 2,
            min_ham_trained: 50,
        }
    }
}

/// Read access to the trained counts of tokens.
pub trait WordStore {
    type Error;

    /// The counts of `token`, `None` if it was never trained (or is back at zero).
    fn get(&self, token: &str) -> Result<Option<WordCounts>, Self::Error>;
}

/// The verdict on one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// Spam probability of the message, in `[0, 1]`; 0.5 when nothing was known.
    pub probability: f64,
    /// `probability >= threshold`, and enough ham was trained to trust it.
    pub is_junk: bool,
    /// The tokens that decided, with their probabilities, most spammy first.
    pub significant: Vec<(String, f64)>,
}

/// Scores `tokens` (see [`crate::junk::tokenize`]) against the counts in `store`, trained from
/// `totals` messages.
pub fn classify<S, I>(
    params: &Params,
    totals: Totals,
    store: &S,
    tokens: I,
) -> Result<Score, S::Error>
where
    S: WordStore + ?Sized,
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut spammy: Vec<(String, f64)> = Vec::new();
    let mut hammy: Vec<(String, f64)> = Vec::new();
    for token in tokens {
        let token = token.as_ref();
        let Some(counts) = store.get(token)? else {
            continue;
        };
        let Some(p) = token_probability(params, totals, counts) else {
            continue;
        };
        if (p - 0.5).abs() < params.ignore_words {
            continue;
        }
        if p > 0.5 {
            spammy.push((token.to_owned(), p));
        } else {
            hammy.push((token.to_owned(), p));
        }
    }
    keep_strongest(&mut spammy, params.top_words, |a, b| b.total_cmp(&a));
    keep_strongest(&mut hammy, params.top_words, |a, b| a.total_cmp(&b));

    let eta: f64 = spammy
        .iter()
        .chain(&hammy)
        .map(|(_, p)| (1.0 - p).ln() - p.ln())
        .sum();
    let probability = 1.0 / (1.0 + eta.exp());
    let is_junk = totals.ham >= params.min_ham_trained && probability >= params.threshold;
    let mut significant = spammy;
    hammy.reverse();
    significant.append(&mut hammy);
    Ok(Score {
        probability,
        is_junk,
        significant,
    })
}

/// Spam probability of a token with `counts`, `None` when it carries no evidence.
fn token_probability(params: &Params, totals: Totals, counts: WordCounts) -> Option<f64> {
    if counts.total() <= u64::from(params.rare_words) {
        return None;
    }
    let share = |n: u32, of: u32| {
        if of == 0 {
            0.0
        } else {
            // Stored counts are not trusted to stay below the totals.
            (f64::from(n) / f64::from(of)).min(1.0)
        }
    };
    let ham = share(counts.ham, totals.ham);
    let spam = share(counts.spam, totals.spam);
    if ham + spam == 0.0 {
        return None;
    }
    let p = spam / (spam + ham);
    Some(p.clamp(params.max_power, 1.0 - params.max_power))
}

/// Keeps the `n` first tokens in `order` of their probability; ties go to the smaller token so
/// the choice does not depend on the order tokens came in.
fn keep_strongest(tokens: &mut Vec<(String, f64)>, n: usize, order: impl Fn(f64, f64) -> Ordering) {
    tokens.sort_by(|(ta, pa), (tb, pb)| order(*pa, *pb).then_with(|| ta.cmp(tb)));
    tokens.truncate(n);
}
