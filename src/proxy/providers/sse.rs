//! Server-sent events from a provider's answer: blocks separated by a blank line, `event:` and
//! `data:` fields (several `data:` lines joined by newlines), comments and other fields ignored,
//! as the HTML standard describes. Written here because a general parser cost about 7,000
//! instructions per event, more than the rest of a chunk's way through the gateway.

use bytes::{Buf, BytesMut};
use futures::{Stream, StreamExt};

/// One event: its name (empty when the block had no `event:` field) and its data.
pub type Event = (String, String);

/// Takes the first complete block out of `buf`, parsed; `None` until a blank line arrives.
/// Blocks without data are skipped, as the standard says.
pub fn take_event(buf: &mut BytesMut) -> Option<Event> {
    loop {
        let (end, sep) = block_end(buf)?;
        let block = buf.split_to(end);
        buf.advance(sep);
        if let Some(event) = parse_block(&block) {
            return Some(event);
        }
    }
}

/// Where the first block ends and how long its blank-line separator is.
fn block_end(buf: &[u8]) -> Option<(usize, usize)> {
    // Providers end lines with LF: find a blank line with memchr, byte by byte only when a CR
    // is in the buffer.
    if memchr::memchr(b'\r', buf).is_none() {
        return memchr::memmem::find(buf, b"\n\n").map(|i| (i, 2));
    }
    let newline = |j: usize| -> Option<usize> {
        match buf.get(j)? {
            b'\n' => Some(1),
            b'\r' if buf.get(j + 1) == Some(&b'\n') => Some(2),
            // A CR at the end may be half of a CRLF still to come.
            b'\r' => (j + 1 < buf.len()).then_some(1),
            _ => None,
        }
    };
    let mut i = 0;
    while i < buf.len() {
        match newline(i) {
            Some(first) => {
                if let Some(second) = newline(i + first) {
                    return Some((i, first + second));
                }
                i += first;
            }
            None => i += 1,
        }
    }
    None
}

fn parse_block(block: &[u8]) -> Option<Event> {
    let mut event = String::new();
    let mut data: Option<String> = None;
    let mut rest = block;
    while !rest.is_empty() {
        // Lines end with LF, CR or CRLF; memchr finds the end instead of a test per byte.
        let end = memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len());
        let line = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        if line.is_empty() || line[0] == b':' {
            continue;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        // Valid UTF-8 (nearly always) is checked at once rather than chunk by chunk.
        let value = match std::str::from_utf8(value) {
            Ok(v) => std::borrow::Cow::Borrowed(v),
            Err(_) => String::from_utf8_lossy(value),
        };
        match field {
            b"event" => event = value.into_owned(),
            b"data" => match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(&value);
                }
                None => data = Some(value.into_owned()),
            },
            _ => {}
        }
    }
    // An event whose data is empty is not dispatched, as the standard says.
    data.filter(|d| !d.is_empty()).map(|d| (event, d))
}

/// The events of a byte stream; a block cut off by the end of the stream is still parsed.
pub fn events<E>(
    body: impl Stream<Item = Result<bytes::Bytes, E>> + Send + 'static,
) -> impl Stream<Item = Result<Event, E>> + Send
where
    E: Send + 'static,
{
    let state = (Box::pin(body), BytesMut::new(), false);
    futures::stream::unfold(state, |(mut body, mut buf, mut ended)| async move {
        loop {
            if let Some(event) = take_event(&mut buf) {
                return Some((Ok(event), (body, buf, ended)));
            }
            if ended {
                let rest = std::mem::take(&mut buf);
                return parse_block(&rest).map(|e| (Ok(e), (body, buf, ended)));
            }
            match body.next().await {
                Some(Ok(bytes)) => buf.extend_from_slice(&bytes),
                Some(Err(e)) => return Some((Err(e), (body, BytesMut::new(), true))),
                None => ended = true,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[&str]) -> Vec<Event> {
        let chunks: Vec<Result<bytes::Bytes, ()>> = input
            .iter()
            .map(|s| Ok(bytes::Bytes::copy_from_slice(s.as_bytes())))
            .collect();
        let stream = events(futures::stream::iter(chunks));
        futures::executor::block_on(stream.map(|e| e.unwrap()).collect())
    }

    fn ev(name: &str, data: &str) -> Event {
        (name.to_string(), data.to_string())
    }

    #[test]
    fn events_split_anywhere_and_every_line_ending() {
        let text = "data: {\"a\":1}\n\nevent: ping\ndata: x\r\n\r\n: comment\nid: 7\ndata: one\ndata:two\n\nretry: 5\n\ndata: last\r\rdata: tail";
        let expected = vec![
            ev("", "{\"a\":1}"),
            ev("ping", "x"),
            ev("", "one\ntwo"),
            ev("", "last"),
            ev("", "tail"),
        ];
        assert_eq!(all(&[text]), expected);
        // Cut into pieces at every byte: the same events.
        let pieces: Vec<String> = text.chars().map(String::from).collect();
        let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
        assert_eq!(all(&pieces), expected);
    }

    #[test]
    fn line_feed_only_streams_split_anywhere() {
        let text = "event: a\ndata: {\"x\":1}\n\ndata: y\n\n: c\n\ndata: z";
        let expected = vec![ev("a", "{\"x\":1}"), ev("", "y"), ev("", "z")];
        for cut in 0..text.len() {
            assert_eq!(all(&[&text[..cut], &text[cut..]]), expected, "cut at {cut}");
        }
    }

    #[test]
    fn blocks_without_data_are_not_events() {
        assert_eq!(
            all(&["data:\n\nevent: x\n\ndata: [DONE]\n\n"]),
            vec![ev("", "[DONE]")]
        );
    }
}
