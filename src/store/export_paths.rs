//! Where `moxctl export` puts each mailbox under its destination directory.
//!
//! The hierarchy of mailbox names ("/"-separated) becomes directories. Each level of a name is
//! used as it is (UTF-8), except that these are written as `%` and two hex digits, so that no
//! name can reach outside the destination, hide, or collide with the format's own names:
//! `%` itself, control characters, a leading `.` (also `.` and `..`), and
//! - mbox: a mailbox is the file `<name>.mbox`, its children live in the directory `<name>/`
//!   (`INBOX.mbox`, `Archive.mbox`, `Archive/2023.mbox`); a level ending in `.mbox` has that dot
//!   escaped (`a.mbox` is `a%2Embox.mbox`), so a directory never has a mailbox file's name;
//! - Maildir: a mailbox is the directory `<name>/` holding `cur/`, `new/` and `tmp/`, its children
//!   are beside those (`Archive/2023/cur/`); a level named `cur`, `new` or `tmp` has its first
//!   letter escaped (`%63ur`).

use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Escapes one level of a mailbox name; `reserved` says whether a (otherwise escaped) level
/// needs its first byte escaped, `suffix_dot` whether its last dot does.
fn escape_level(level: &str, reserved: impl Fn(&str) -> bool, suffix: Option<&str>) -> String {
    if level.is_empty() {
        return "%00".into();
    }
    let mut out = String::with_capacity(level.len());
    for (i, c) in level.char_indices() {
        if c == '%' || c.is_control() || (i == 0 && c == '.') {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    if reserved(&out) {
        let first = out.as_bytes()[0];
        out = format!("%{first:02X}{}", &out[1..]);
    }
    if let Some(suffix) = suffix
        && let Some(stem) = out.strip_suffix(suffix)
        && let Some(stem) = stem.strip_suffix('.')
    {
        out = format!("{stem}%2E{}", &suffix);
    }
    out
}

fn levels(name: &str) -> impl Iterator<Item = &str> {
    name.split('/')
}

/// The mbox file of mailbox `name` under `dest`.
pub fn mbox_file(dest: &Path, name: &str) -> PathBuf {
    let mut path = dest.to_path_buf();
    let all: Vec<String> = levels(name)
        .map(|l| escape_level(l, |_| false, Some("mbox")))
        .collect();
    if let Some((last, parents)) = all.split_last() {
        path.extend(parents);
        path.push(format!("{last}.mbox"));
    }
    path
}

/// The Maildir directory of mailbox `name` under `dest` (holding `cur`, `new` and `tmp`).
pub fn maildir_dir(dest: &Path, name: &str) -> PathBuf {
    let mut path = dest.to_path_buf();
    path.extend(
        levels(name).map(|l| escape_level(l, |l| matches!(l, "cur" | "new" | "tmp"), None)),
    );
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_files() {
        let f = |n: &str| mbox_file(Path::new("/d"), n).display().to_string();
        assert_eq!(f("INBOX"), "/d/INBOX.mbox");
        assert_eq!(f("Archive/2023"), "/d/Archive/2023.mbox");
        assert_eq!(f("a.mbox"), "/d/a%2Embox.mbox");
        assert_eq!(f("a.mbox/b"), "/d/a%2Embox/b.mbox");
        assert_eq!(f("mbox"), "/d/mbox.mbox");
        assert_eq!(f(".."), "/d/%2E..mbox");
        assert_eq!(f("../x"), "/d/%2E./x.mbox");
        assert_eq!(f(".hidden/cur"), "/d/%2Ehidden/cur.mbox");
        assert_eq!(f("100%/tab\there"), "/d/100%25/tab%09here.mbox");
        assert_eq!(f("Café/日本"), "/d/Café/日本.mbox");
        assert_eq!(f("a//b"), "/d/a/%00/b.mbox");
    }

    #[test]
    fn maildir_dirs() {
        let f = |n: &str| maildir_dir(Path::new("/d"), n).display().to_string();
        assert_eq!(f("INBOX"), "/d/INBOX");
        assert_eq!(f("Archive/2023"), "/d/Archive/2023");
        assert_eq!(f("Archive/cur"), "/d/Archive/%63ur");
        assert_eq!(f("new/tmp/curious"), "/d/%6Eew/%74mp/curious");
        assert_eq!(f("a.mbox"), "/d/a.mbox");
        assert_eq!(f("."), "/d/%2E");
        assert_eq!(f("%2E"), "/d/%252E");
    }
}
