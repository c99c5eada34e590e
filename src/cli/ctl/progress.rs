//! A progress bar on standard error, drawn only when it is a terminal (scripts and logs get
//! the final summary line alone).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often the bar is redrawn at most.
const REDRAW: Duration = Duration::from_millis(100);
const WIDTH: u64 = 30;

pub struct Progress {
    label: &'static str,
    /// What the bar counts: bytes (shown in MB) or items.
    bytes: bool,
    total: u64,
    done: u64,
    items: u64,
    shown: bool,
    last: Option<Instant>,
}

impl Progress {
    pub fn new(label: &'static str, total: u64, bytes: bool) -> Progress {
        Progress {
            label,
            bytes,
            total,
            done: 0,
            items: 0,
            shown: std::io::stderr().is_terminal(),
            last: None,
        }
    }

    pub fn set_total(&mut self, total: u64) {
        self.total = total;
    }

    /// `amount` more of the total, and `items` more messages.
    pub fn advance(&mut self, amount: u64, items: u64) {
        self.done += amount;
        self.items += items;
        if self.shown && self.last.is_none_or(|t| t.elapsed() >= REDRAW) {
            self.last = Some(Instant::now());
            self.draw();
        }
    }

    fn draw(&self) {
        let filled = (self.done.min(self.total) * WIDTH)
            .checked_div(self.total)
            .unwrap_or(0);
        let percent = (self.done.min(self.total) * 100)
            .checked_div(self.total)
            .unwrap_or(100);
        let amount = if self.bytes {
            format!("{} / {}", megabytes(self.done), megabytes(self.total))
        } else {
            format!("{} / {}", self.done, self.total)
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r{} [{}{}] {percent:>3}%  {amount}  {} messages ",
            self.label,
            "#".repeat(filled as usize),
            " ".repeat((WIDTH - filled) as usize),
            self.items,
        );
        let _ = err.flush();
    }

    /// Draws the bar complete and ends its line.
    pub fn finish(&mut self) {
        if self.shown {
            self.draw();
            eprintln!();
            self.shown = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // An error message must not start on the bar's line.
        if self.shown && self.last.is_some() {
            eprintln!();
        }
    }
}

fn megabytes(n: u64) -> String {
    format!("{:.1} MB", n as f64 / 1e6)
}
