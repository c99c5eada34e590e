//! AutomaticJunkFlags (domains.toml, per account): the mailbox a message is delivered, appended,
//! copied or moved to says whether it is junk. Mail clients rarely let users set `$Junk` or
//! `$NotJunk`, but all of them move messages: this is how the junk filter learns.
//!
//! ```toml
//! [accounts.mjl.automatic_junk_flags]
//! enabled = true
//! junk_mailbox_regexp = "^(junk|spam)"                                    # the defaults
//! neutral_mailbox_regexp = "^(inbox|neutral|postmaster|dmarc|tlsrpt|rejects)"
//! notjunk_mailbox_regexp = ""                                             # empty: all others
//! ```
//!
//! Names are matched without regard to case. A mailbox with special-use `\Junk` is always junk.

use serde::Deserialize;

use super::Problems;

pub const DEFAULT_JUNK: &str = "^(junk|spam)";
pub const DEFAULT_NEUTRAL: &str = "^(inbox|neutral|postmaster|dmarc|tlsrpt|rejects)";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoJunkFile {
    #[serde(default)]
    pub enabled: bool,
    pub junk_mailbox_regexp: Option<String>,
    pub neutral_mailbox_regexp: Option<String>,
    pub notjunk_mailbox_regexp: Option<String>,
}

/// What a mailbox makes of the messages put in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// `$Junk` set, `$NotJunk` cleared.
    Junk,
    /// `$NotJunk` set, `$Junk` cleared.
    NotJunk,
    /// Flags left as they are.
    Neutral,
}

/// The validated settings.
#[derive(Debug, Clone)]
pub struct AutoJunkFlags {
    junk: regex_lite::Regex,
    neutral: regex_lite::Regex,
    /// None: every mailbox that is neither junk nor neutral is notjunk.
    notjunk: Option<regex_lite::Regex>,
}

fn compile(text: &str, key: &str, problems: &mut Problems) -> Option<regex_lite::Regex> {
    match regex_lite::Regex::new(&format!("(?i){text}")) {
        Ok(r) => Some(r),
        Err(e) => {
            problems.add(key, format!("invalid regular expression: {e}"));
            None
        }
    }
}

impl AutoJunkFlags {
    /// What `name` (a mailbox name, `/` as separator) with special-use `is_junk` does.
    pub fn category(&self, name: &str, special_junk: bool) -> Category {
        if special_junk || self.junk.is_match(name) {
            Category::Junk
        } else if self.neutral.is_match(name) {
            Category::Neutral
        } else {
            match &self.notjunk {
                None => Category::NotJunk,
                Some(r) if r.is_match(name) => Category::NotJunk,
                Some(_) => Category::Neutral,
            }
        }
    }
}

impl AutoJunkFile {
    /// None when disabled (or invalid: the problems say why).
    pub(crate) fn validate(&self, key: &str, problems: &mut Problems) -> Option<AutoJunkFlags> {
        let k = |f: &str| format!("{key}.{f}");
        let junk = compile(
            self.junk_mailbox_regexp.as_deref().unwrap_or(DEFAULT_JUNK),
            &k("junk_mailbox_regexp"),
            problems,
        );
        let neutral = compile(
            self.neutral_mailbox_regexp
                .as_deref()
                .unwrap_or(DEFAULT_NEUTRAL),
            &k("neutral_mailbox_regexp"),
            problems,
        );
        let notjunk = match self.notjunk_mailbox_regexp.as_deref() {
            None | Some("") => Some(None),
            Some(text) => compile(text, &k("notjunk_mailbox_regexp"), problems).map(Some),
        };
        match (self.enabled, junk, neutral, notjunk) {
            (true, Some(junk), Some(neutral), Some(notjunk)) => Some(AutoJunkFlags {
                junk,
                neutral,
                notjunk,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> AutoJunkFlags {
        let mut problems = Problems::new(std::path::Path::new(""));
        AutoJunkFile {
            enabled: true,
            junk_mailbox_regexp: None,
            neutral_mailbox_regexp: None,
            notjunk_mailbox_regexp: None,
        }
        .validate("", &mut problems)
        .expect("the default expressions compile")
    }

    #[test]
    fn default_categories() {
        let f = defaults();
        assert_eq!(f.category("Junk", false), Category::Junk);
        assert_eq!(f.category("spam/2024", false), Category::Junk);
        assert_eq!(f.category("INBOX", false), Category::Neutral);
        assert_eq!(f.category("Rejects", false), Category::Neutral);
        assert_eq!(f.category("Archive", false), Category::NotJunk);
        assert_eq!(f.category("list/rust", false), Category::NotJunk);
        assert_eq!(f.category("Quarantaine", true), Category::Junk);
    }

    #[test]
    fn configured_and_invalid() {
        let mut problems = Problems::new(std::path::Path::new("domains.toml"));
        let file = AutoJunkFile {
            enabled: true,
            junk_mailbox_regexp: None,
            neutral_mailbox_regexp: None,
            notjunk_mailbox_regexp: Some("^archive".into()),
        };
        let f = file
            .validate("accounts.a.automatic_junk_flags", &mut problems)
            .unwrap();
        assert_eq!(f.category("Archive/2020", false), Category::NotJunk);
        assert_eq!(f.category("Lists", false), Category::Neutral);
        let bad = AutoJunkFile {
            junk_mailbox_regexp: Some("(".into()),
            ..file
        };
        assert!(
            bad.validate("accounts.a.automatic_junk_flags", &mut problems)
                .is_none()
        );
        let err = problems.finish().unwrap_err();
        assert_eq!(
            err.0[0].key,
            "accounts.a.automatic_junk_flags.junk_mailbox_regexp"
        );
    }
}
