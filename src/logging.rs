//! Logging setup: tracing with structured fields, to stderr.

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, reload};

/// The filter for a configured level: a plain level or a full filter directive. `RUST_LOG`, when
/// set, takes precedence at start-up.
pub fn filter(level: &str) -> Result<EnvFilter, String> {
    let level = level.trim();
    if level.is_empty() {
        return Err("empty log level".into());
    }
    let plain = ["error", "warn", "info", "debug", "trace", "off"];
    let directive = if plain.contains(&level) {
        format!("{level},heed=warn")
    } else {
        level.to_string()
    };
    if !plain.contains(&level) && !level.contains(['=', ',']) {
        return Err(format!(
            "unknown log level {level:?}: use error, warn, info, debug or trace"
        ));
    }
    EnvFilter::try_new(&directive).map_err(|e| format!("invalid log filter {level:?}: {e}"))
}

type SetFilter = Box<dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync>;

/// Swaps the running filter (`moxctl loglevel`); set by [`init`].
static SET_FILTER: OnceLock<SetFilter> = OnceLock::new();

/// Installs the global subscriber. `json` switches to one JSON object per line.
pub fn init(level: &str, json: bool) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| filter(level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (filter, handle) = reload::Layer::new(filter);
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry.with(fmt.json()).try_init()
    } else {
        registry.with(fmt).try_init()
    };
    match result {
        Ok(()) => {
            let _ = SET_FILTER.set(Box::new(move |f| {
                handle.reload(f).map_err(|e| e.to_string())
            }));
        }
        Err(e) => eprintln!("logging already set up: {e}"),
    }
}

/// Changes the log level of the running process (a level or a filter, as in the config).
pub fn set_level(level: &str) -> Result<(), String> {
    let filter = filter(level)?;
    match SET_FILTER.get() {
        Some(set) => set(filter),
        None => Err("logging is not set up in this process".into()),
    }
}
