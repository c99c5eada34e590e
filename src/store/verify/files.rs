//! Message files against what the index says about them: there, of the recorded size, and
//! nothing else in their directories.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Kind, Sink};
use crate::store::files::{FileId, MessageFiles};

/// A file the index names, with the size it must have when known.
pub(super) struct Expected {
    pub size: Option<u64>,
    /// Who names it, for the problem's text.
    pub owner: String,
}

/// The key of a problem about `path`: its path below `base`.
pub(super) fn rel(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Size of the file at `path`, None when there is none.
pub(super) fn size_of(path: &Path) -> std::io::Result<Option<u64>> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(Some(m.len())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Checks the files of `files` against `expected` (file number → what must be there):
/// missing files, files of another size, files nobody names (unless `unknown` says their owner
/// could not be read), and what does not follow the name scheme. Problems go under `table`,
/// keyed by the path below `base`.
pub(super) fn check<Id: FileId>(
    files: &MessageFiles<Id>,
    base: &Path,
    table: &'static str,
    expected: &BTreeMap<u64, Expected>,
    unknown: impl Fn(u64) -> bool,
    make_id: impl Fn(u64) -> Id,
    sink: &mut Sink,
) {
    let on_disk = match files.on_disk() {
        Ok((mut numbers, mut strangers)) => {
            numbers.sort_unstable();
            strangers.sort();
            for path in strangers {
                sink.add(
                    table,
                    rel(base, &path),
                    Kind::StrangeFile,
                    "not a message file (not the name moxide gives them, or not where it puts them)"
                        .into(),
                );
            }
            numbers
        }
        // No directory: no files, which is fine when nothing names any.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            sink.add(
                table,
                rel(base, files.root()),
                Kind::Unreadable,
                e.to_string(),
            );
            return;
        }
    };
    for &n in &on_disk {
        if !expected.contains_key(&n) && !unknown(n) {
            sink.add(
                table,
                rel(base, &files.path(make_id(n))),
                Kind::ExtraFile,
                "extra file: nothing in the index refers to it".into(),
            );
        }
    }
    for (&n, e) in expected {
        let path = files.path(make_id(n));
        let key = rel(base, &path);
        match size_of(&path) {
            Err(err) => sink.add(table, key, Kind::Unreadable, err.to_string()),
            Ok(None) => sink.add(
                table,
                key,
                Kind::MissingFile,
                format!("missing file of {}", e.owner),
            ),
            Ok(Some(size)) => match e.size {
                Some(want) if want != size => sink.add(
                    table,
                    key,
                    Kind::FileSize,
                    format!(
                        "file of {} has {size} bytes, the index says {want} ({})",
                        e.owner,
                        if size < want { "truncated" } else { "grown" }
                    ),
                ),
                _ => {}
            },
        }
    }
}
