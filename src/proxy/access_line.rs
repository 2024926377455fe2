//! The access line written by hand into the log writer's queue. Through `tracing`'s formatter
//! a line cost about 23,000 instructions (its timestamp, the span's fields, a visitor per
//! field); written here it costs a small fraction of that, in the same text or JSON shape as
//! the other lines. Without an installed sink (tests, tools) lines go through `tracing`.

use std::cell::RefCell;
use std::io::Write;
use std::sync::OnceLock;

use tracing_appender::non_blocking::NonBlocking;

use std::time::Duration;

/// The target of the access lines, for filtering (`RUST_LOG=tollgate::access=off`).
pub const TARGET: &str = "tollgate::access";

/// One finished proxy request.
pub struct Line<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub latency: Duration,
    pub key_id: &'a str,
    pub model: &'a str,
    pub provider: &'a str,
    pub request_id: &'a str,
}

impl Line<'_> {
    pub fn log(&self) {
        if !tracing::enabled!(target: TARGET, tracing::Level::INFO) || write(self) {
            return;
        }
        tracing::info!(
            target: TARGET,
            // Written as they are (no quoting and escaping): the gateway's own words, and
            // request ids are visible ASCII. The model is the client's text, so it is quoted
            // and escaped: a line break in it cannot forge a log line.
            method = %self.method,
            path = %self.path,
            status = self.status,
            latency_us = u64::try_from(self.latency.as_micros()).unwrap_or(u64::MAX),
            key_id = %self.key_id,
            model = self.model,
            provider = %self.provider,
            request_id = %self.request_id,
            "proxy request"
        );
    }
}

struct Sink {
    writer: NonBlocking,
    json: bool,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sends access lines to `writer` (the log thread's queue), as JSON objects or text.
pub fn install(writer: NonBlocking, json: bool) {
    let _ = SINK.set(Sink { writer, json });
}

thread_local! {
    /// The line being written, and the timestamp's seconds part with the second it is of.
    static BUFFER: RefCell<(String, i64, String)> = RefCell::new((String::with_capacity(256), i64::MIN, String::new()));
}

/// Writes `line` if a sink is installed; false if not (the caller logs through `tracing`).
pub fn write(line: &Line<'_>) -> bool {
    let Some(sink) = SINK.get() else {
        return false;
    };
    BUFFER.with_borrow_mut(|(out, second, stamp)| {
        out.clear();
        let now = chrono::Utc::now();
        if now.timestamp() != *second {
            *second = now.timestamp();
            *stamp = now.format("%Y-%m-%dT%H:%M:%S").to_string();
        }
        let micros = now.timestamp_subsec_micros().min(999_999);
        let latency = u64::try_from(line.latency.as_micros()).unwrap_or(u64::MAX);
        let mut digits = itoa::Buffer::new();
        let frac = digits.format(micros);
        let time = |out: &mut String| {
            out.push_str(stamp);
            out.push('.');
            out.extend(std::iter::repeat_n('0', 6 - frac.len()));
            out.push_str(frac);
            out.push('Z');
        };
        if sink.json {
            out.push_str("{\"timestamp\":\"");
            time(out);
            out.push_str("\",\"level\":\"INFO\",\"fields\":{\"message\":\"proxy request\"");
            for (name, value) in [("method", line.method), ("path", line.path)] {
                json_field(out, name, value);
            }
            out.push_str(",\"status\":");
            out.push_str(itoa::Buffer::new().format(line.status));
            out.push_str(",\"latency_us\":");
            out.push_str(itoa::Buffer::new().format(latency));
            for (name, value) in [
                ("key_id", line.key_id),
                ("model", line.model),
                ("provider", line.provider),
                ("request_id", line.request_id),
            ] {
                json_field(out, name, value);
            }
            out.push_str("},\"target\":\"");
            out.push_str(TARGET);
            out.push_str("\"}\n");
        } else {
            time(out);
            out.push_str("  INFO ");
            out.push_str(TARGET);
            out.push_str(": proxy request method=");
            out.push_str(line.method);
            out.push_str(" path=");
            out.push_str(line.path);
            out.push_str(" status=");
            out.push_str(itoa::Buffer::new().format(line.status));
            out.push_str(" latency_us=");
            out.push_str(itoa::Buffer::new().format(latency));
            out.push_str(" key_id=");
            out.push_str(line.key_id);
            // The client's text: quoted and escaped, so a line break cannot forge a line.
            out.push_str(" model=");
            quoted(out, line.model);
            out.push_str(" provider=");
            out.push_str(line.provider);
            out.push_str(" request_id=");
            out.push_str(line.request_id);
            out.push('\n');
        }
        // The queue drops lines when full (never blocks a request); a closed one, at exit.
        let _ = sink.writer.clone().write_all(out.as_bytes());
    });
    true
}

/// Text safe to write between quotes as it is, in JSON and in Rust's `Debug` form alike.
fn plain(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

fn quoted(out: &mut String, s: &str) {
    if plain(s) {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        use std::fmt::Write as _;
        let _ = write!(out, "{s:?}");
    }
}

fn json_field(out: &mut String, name: &str, value: &str) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":");
    if plain(value) {
        out.push('"');
        out.push_str(value);
        out.push('"');
    } else {
        out.push_str(&serde_json::Value::from(value).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_text_is_escaped() {
        let mut out = String::new();
        quoted(&mut out, "gpt\n\"x\"");
        assert_eq!(out, r#""gpt\n\"x\"""#);
        out.clear();
        json_field(&mut out, "model", "a\"b\nc");
        let v: serde_json::Value = serde_json::from_str(&format!("{{{}}}", &out[1..])).unwrap();
        assert_eq!(v["model"], "a\"b\nc");
    }
}
