//! Bounded capture of run output: a shell target keeps the last 64 KiB of
//! stdout and stderr (the end of a log says why it failed); an HTTP target
//! keeps the first 64 KiB of its response body.

use std::collections::VecDeque;

/// The most output bytes kept per stream.
pub(crate) const OUTPUT_LIMIT: usize = 64 * 1024;

/// Keeps the last [`OUTPUT_LIMIT`] bytes written to it.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    bytes: VecDeque<u8>,
}

impl Tail {
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        let chunk = &chunk[chunk.len().saturating_sub(OUTPUT_LIMIT)..];
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(OUTPUT_LIMIT);
        self.bytes.drain(..overflow);
        self.bytes.extend(chunk);
    }

    /// The kept bytes as text (invalid UTF-8 replaced), or `None` if empty.
    pub(crate) fn into_text(self) -> Option<String> {
        text(&Vec::from(self.bytes))
    }
}

/// Bytes as text (invalid UTF-8 replaced), or `None` if empty.
pub(crate) fn text(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        None
    } else {
        Some(String::from_utf8_lossy(bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut tail = Tail::default();
        tail.push(&vec![b'a'; OUTPUT_LIMIT - 1]);
        tail.push(b"bc");
        let text = tail.into_text().expect("output was written");
        assert_eq!(text.len(), OUTPUT_LIMIT);
        assert!(text.starts_with("aa"));
        assert!(text.ends_with("abc"));
    }

    #[test]
    fn tail_of_one_huge_chunk() {
        let mut tail = Tail::default();
        let mut chunk = vec![b'x'; OUTPUT_LIMIT * 3];
        chunk.push(b'!');
        tail.push(&chunk);
        let text = tail.into_text().expect("output was written");
        assert_eq!(text.len(), OUTPUT_LIMIT);
        assert!(text.ends_with("x!"));
    }

    #[test]
    fn empty_output_is_none() {
        assert_eq!(Tail::default().into_text(), None);
        assert_eq!(text(b""), None);
    }
}
