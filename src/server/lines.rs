//! Lines out of a body that arrives in chunks of any size: a line inside one chunk is a slice
//! of it (no copy); only a line across chunks is assembled, and never beyond the limit.

use bytes::Bytes;

/// A line longer than the limit: the body is refused there.
#[derive(Debug, PartialEq)]
pub struct TooLong;

/// The lines of a body, fed chunk by chunk.
pub struct Lines {
    chunk: Bytes,
    at: usize,
    partial: Vec<u8>,
    max: usize,
}

impl Lines {
    /// Lines of at most `max` bytes (without their newline).
    pub fn new(max: usize) -> Self {
        Self {
            chunk: Bytes::new(),
            at: 0,
            partial: Vec::new(),
            max,
        }
    }

    /// The next chunk; call once [`Lines::next_line`] has answered `None`.
    pub fn refill(&mut self, chunk: Bytes) {
        debug_assert!(self.at >= self.chunk.len(), "the last chunk is not used up");
        self.chunk = chunk;
        self.at = 0;
    }

    /// The next complete line (without `\n` or `\r\n`), `None` when the chunk is used up.
    pub fn next_line(&mut self) -> Result<Option<Bytes>, TooLong> {
        let rest = &self.chunk[self.at..];
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            if self.partial.len() + rest.len() > self.max {
                return Err(TooLong);
            }
            self.partial.extend_from_slice(rest);
            self.at = self.chunk.len();
            return Ok(None);
        };
        let line = if self.partial.is_empty() {
            self.chunk.slice(self.at..self.at + end)
        } else {
            self.partial.extend_from_slice(&rest[..end]);
            Bytes::from(std::mem::take(&mut self.partial))
        };
        self.at += end + 1;
        let line = match line.last() {
            Some(b'\r') => line.slice(..line.len() - 1),
            _ => line,
        };
        if line.len() > self.max {
            return Err(TooLong);
        }
        Ok(Some(line))
    }

    /// What is left once the body has ended: a last line without its newline.
    pub fn rest(&mut self) -> Option<Bytes> {
        let rest = &self.chunk[self.at..];
        self.partial.extend_from_slice(rest);
        self.at = self.chunk.len();
        (!self.partial.is_empty()).then(|| Bytes::from(std::mem::take(&mut self.partial)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&str], max: usize) -> Result<Vec<String>, TooLong> {
        let mut lines = Lines::new(max);
        let mut out = Vec::new();
        for chunk in chunks {
            lines.refill(Bytes::copy_from_slice(chunk.as_bytes()));
            while let Some(line) = lines.next_line()? {
                out.push(String::from_utf8(line.to_vec()).unwrap());
            }
        }
        out.extend(lines.rest().map(|l| String::from_utf8(l.to_vec()).unwrap()));
        Ok(out)
    }

    #[test]
    fn lines_are_found_across_chunks_of_any_size() {
        let want = ["{\"a\":1}", "", "{\"b\":22}", "last"];
        let text = "{\"a\":1}\r\n\n{\"b\":22}\nlast";
        for size in 1..text.len() {
            let chunks: Vec<&str> = text
                .as_bytes()
                .chunks(size)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            assert_eq!(split(&chunks, 100).unwrap(), want, "chunks of {size}");
        }
    }

    #[test]
    fn a_line_over_the_limit_is_refused_even_before_it_ends() {
        assert_eq!(split(&["12345\n"], 5).unwrap(), ["12345"]);
        assert_eq!(split(&["123456\n"], 5), Err(TooLong));
        assert_eq!(split(&["1234", "56"], 5), Err(TooLong));
    }
}
