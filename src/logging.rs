//! Logging setup: tracing with structured fields, to stderr.

use tracing_subscriber::EnvFilter;

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

/// Installs the global subscriber. `json` switches to one JSON object per line.
pub fn init(level: &str, json: bool) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| filter(level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let result = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    if let Err(e) = result {
        eprintln!("logging already set up: {e}");
    }
}
