//! The `UsageRecorded` event's JSON, written by hand. serde's derived serializer escapes every
//! field name and value byte by byte; for a flush of thousands of records that was about 6 %
//! of the gateway's instructions per request. The output is byte for byte what serde writes
//! (tested below), so readers keep decoding it with the derived `Deserialize`.

use crate::usage::UsageRecord;

/// `{"UsageRecorded":{"records":[...]}}` for `records`, as `serde_json::to_string` of
/// `UsageEvent::UsageRecorded` writes it.
pub fn usage_recorded_json(records: &[UsageRecord]) -> String {
    // About 620 bytes per record with UUID ids and model names of usual lengths.
    let mut out = String::with_capacity(40 + records.len() * 700);
    out.push_str(r#"{"UsageRecorded":{"records":["#);
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_record(&mut out, r);
    }
    out.push_str("]}}");
    out
}

/// A record with its JSON when that was written already (the spool's line), so an event's
/// payload copies the text instead of writing the record a second time.
#[derive(Debug, Clone)]
pub struct Written {
    pub record: UsageRecord,
    /// Exactly `write_record`'s output for `record`.
    pub json: Option<String>,
}

/// `usage_recorded_json` of the records, each copied from its JSON where it has one.
pub fn usage_recorded_json_of(records: &[Written]) -> String {
    let mut out = String::with_capacity(40 + records.len() * 700);
    out.push_str(r#"{"UsageRecorded":{"records":["#);
    for (i, w) in records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match &w.json {
            Some(json) => out.push_str(json),
            None => write_record(&mut out, &w.record),
        }
    }
    out.push_str("]}}");
    out
}

/// One record as `serde_json` writes it, appended to `out`.
pub fn write_record(out: &mut String, r: &UsageRecord) {
    // Each name with its separator is one literal: field names are never escaped.
    out.push_str(r#"{"request_id":"#);
    string(out, &r.request_id);
    out.push_str(r#","organization_id":"#);
    string(out, &r.organization_id);
    out.push_str(r#","project_id":"#);
    string(out, &r.project_id);
    out.push_str(r#","key_id":"#);
    string(out, &r.key_id);
    out.push_str(r#","endpoint":"#);
    string(out, &r.endpoint);
    out.push_str(r#","requested_model":"#);
    string(out, &r.requested_model);
    out.push_str(r#","model":"#);
    string(out, &r.model);
    out.push_str(r#","provider":"#);
    string(out, &r.provider);
    out.push_str(r#","paid_with":"#);
    string(out, r.paid_with.as_str());
    out.push_str(r#","prompt_tokens":"#);
    number(out, r.prompt_tokens);
    out.push_str(r#","completion_tokens":"#);
    number(out, r.completion_tokens);
    out.push_str(r#","cached_tokens":"#);
    number(out, r.cached_tokens);
    out.push_str(r#","reasoning_tokens":"#);
    number(out, r.reasoning_tokens);
    out.push_str(r#","cost_nano_usd":"#);
    number(out, r.cost_nano_usd);
    out.push_str(r#","fee_nano_usd":"#);
    number(out, r.fee_nano_usd);
    out.push_str(r#","estimated":"#);
    boolean(out, r.estimated);
    out.push_str(r#","cached":"#);
    boolean(out, r.cached);
    out.push_str(r#","streamed":"#);
    boolean(out, r.streamed);
    out.push_str(r#","status":"#);
    number(out, r.status);
    out.push_str(r#","error_code":"#);
    match &r.error_code {
        Some(code) => string(out, code),
        None => out.push_str("null"),
    }
    out.push_str(r#","latency_ms":"#);
    number(out, r.latency_ms);
    out.push_str(r#","time_to_first_token_ms":"#);
    match r.time_to_first_token_ms {
        Some(ms) => number(out, ms),
        None => out.push_str("null"),
    }
    out.push_str(r#","started_at":"#);
    number(out, r.started_at);
    out.push_str(r#","cache_creation_tokens":"#);
    number(out, r.cache_creation_tokens);
    out.push('}');
}

fn string(out: &mut String, s: &str) {
    // serde_json escapes only quotes, backslashes and control characters (not DEL, not
    // non-ASCII); strings without them, nearly all here, are copied as they are.
    // The scan has no early exit, so it vectorizes: 16 or 32 bytes a step instead of one.
    let escaped = s.bytes().fold(0u8, |any, b| {
        any | u8::from(b < 0x20 || b == b'"' || b == b'\\')
    });
    if escaped == 0 {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        // Writing a `str` to JSON cannot fail.
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

fn number(out: &mut String, n: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(n));
}

fn boolean(out: &mut String, b: bool) {
    out.push_str(if b { "true" } else { "false" });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::{PaidWith, UsageEvent};

    fn serde_text(records: &[UsageRecord]) -> String {
        serde_json::to_string(&UsageEvent::UsageRecorded {
            records: records.to_vec(),
        })
        .expect("serializes")
    }

    #[test]
    fn writes_what_serde_writes_for_every_kind_of_value() {
        let awkward = [
            "",
            "plain-id_123",
            "quote\"inside",
            "back\\slash",
            "new\nline\ttab\r",
            "\u{0}\u{1f} controls",
            "del\u{7f}",
            "ünïcødé ✓ 🚀",
            "openai/gpt-4o-mini",
            "</script>",
        ];
        let mut records = Vec::new();
        for (i, s) in awkward.iter().enumerate() {
            records.push(UsageRecord {
                request_id: s.to_string(),
                organization_id: format!("org-{i}"),
                project_id: s.to_string(),
                key_id: "k".into(),
                endpoint: "chat".into(),
                requested_model: s.to_string(),
                model: s.to_string(),
                provider: s.to_string(),
                paid_with: [PaidWith::OwnKey, PaidWith::Credits, PaidWith::None][i % 3],
                prompt_tokens: if i == 0 { u64::MAX } else { i as u64 },
                completion_tokens: 0,
                cached_tokens: 7,
                reasoning_tokens: 9,
                cost_nano_usd: if i == 1 { i64::MIN } else { i as i64 * 1_000 },
                fee_nano_usd: if i == 2 { i64::MAX } else { -1 },
                estimated: i % 2 == 0,
                cached: i % 3 == 0,
                streamed: i % 2 == 1,
                status: [200, 429, 502, u16::MAX][i % 4],
                error_code: (i % 2 == 0).then(|| s.to_string()),
                latency_ms: 12,
                time_to_first_token_ms: (i % 3 == 1).then_some(u64::MAX),
                started_at: -5 + i as i64,
                cache_creation_tokens: i as u64 * 3,
            });
        }
        for n in [0, 1, records.len()] {
            let text = usage_recorded_json(&records[..n]);
            assert_eq!(text, serde_text(&records[..n]));
            let back: UsageEvent = serde_json::from_str(&text).expect("decodes");
            assert_eq!(
                back,
                UsageEvent::UsageRecorded {
                    records: records[..n].to_vec()
                }
            );
            // Records whose JSON was written before (the spool's lines) give the same text.
            let written: Vec<Written> = records[..n]
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut json = String::new();
                    write_record(&mut json, r);
                    Written {
                        record: r.clone(),
                        json: (i % 2 == 0).then_some(json),
                    }
                })
                .collect();
            assert_eq!(usage_recorded_json_of(&written), text);
        }
    }
}
