//! Incremental Server-Sent Events parser over raw bytes.
//!
//! Lines are split on `\n` in bytes (a multi-byte UTF-8 character may span network
//! chunks), `\r\n` is accepted, `data:` with or without a space, multi-line data is
//! joined with `\n`, comments (`:`) and other fields are ignored, and an event ends
//! at a blank line. The caller stamps each network chunk when it is read; every
//! event completed by that chunk gets that timestamp.

/// One complete SSE event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if any (e.g. `error`).
    pub event: Option<String>,
    /// The joined `data:` lines.
    pub data: String,
}

/// Parser state carried across network chunks.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    data: Option<String>,
    event: Option<String>,
}

impl SseParser {
    /// A fresh parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; calls `emit` for every event they complete.
    pub fn feed(&mut self, bytes: &[u8], mut emit: impl FnMut(SseEvent)) {
        let mut rest = bytes;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            self.line.extend_from_slice(&rest[..pos]);
            rest = &rest[pos + 1..];
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.line_done(&line, &mut emit);
            self.line = line;
            self.line.clear();
        }
        self.line.extend_from_slice(rest);
    }

    /// Ends the stream: a pending event without its blank line is still emitted.
    pub fn finish(&mut self, mut emit: impl FnMut(SseEvent)) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            let line = line.strip_suffix(b"\r").unwrap_or(&line).to_vec();
            self.line_done(&line, &mut emit);
        }
        self.dispatch(&mut emit);
    }

    fn line_done(&mut self, line: &[u8], emit: &mut impl FnMut(SseEvent)) {
        if line.is_empty() {
            self.dispatch(emit);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(&value);
                }
                None => self.data = Some(value.into_owned()),
            },
            b"event" => self.event = Some(value.into_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, emit: &mut impl FnMut(SseEvent)) {
        let event = self.event.take();
        if let Some(data) = self.data.take() {
            emit(SseEvent { event, data });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, |e| out.push(e));
        }
        p.finish(|e| out.push(e));
        out
    }

    #[test]
    fn events_split_across_chunks_and_crlf() {
        let ev = parse_all(&[b"data: {\"a\":", b"1}\r\n\r\ndata:[DONE]\n", b"\n"]);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].data, "{\"a\":1}");
        assert_eq!(ev[1].data, "[DONE]");
    }

    #[test]
    fn multibyte_char_split_between_chunks() {
        let text = "data: héllo\n\n".as_bytes();
        let (a, b) = text.split_at(8); // splits the two bytes of 'é'
        let ev = parse_all(&[a, b]);
        assert_eq!(ev[0].data, "héllo");
    }

    #[test]
    fn comments_multiline_data_event_names_and_unterminated_tail() {
        let ev =
            parse_all(&[b": keep-alive\n\nevent: error\ndata: line1\ndata: line2\n\ndata: tail"]);
        assert_eq!(ev.len(), 2);
        assert_eq!(
            ev[0],
            SseEvent {
                event: Some("error".into()),
                data: "line1\nline2".into()
            }
        );
        assert_eq!(ev[1].data, "tail");
    }
}
