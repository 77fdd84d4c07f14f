//! The sliding window of a direct phase: records start in key order, end in any order, and the
//! durable cursor is the highest key with every key up to it ended. So the window never waits
//! for its slowest record before starting more, and a crash resumes without skipping one.

use std::collections::{HashSet, VecDeque};

/// Keys started and not yet below the watermark.
#[derive(Debug, Default)]
pub struct Window {
    order: VecDeque<Vec<u8>>,
    ended: HashSet<Vec<u8>>,
    watermark: Option<Vec<u8>>,
    passed: usize,
}

impl Window {
    /// A key was started (keys come in increasing order).
    pub fn started(&mut self, key: Vec<u8>) {
        self.order.push_back(key);
    }

    /// A key ended; the watermark moves past every key ended in a row from the oldest.
    pub fn ended(&mut self, key: &[u8]) {
        self.ended.insert(key.to_vec());
        while let Some(front) = self.order.front() {
            if !self.ended.remove(front) {
                break;
            }
            self.watermark = self.order.pop_front();
            self.passed += 1;
        }
    }

    /// The highest key such that it and every key started before it have ended.
    pub fn watermark(&self) -> Option<&[u8]> {
        self.watermark.as_deref()
    }

    /// Keys started and not yet below the watermark.
    pub fn open(&self) -> usize {
        self.order.len()
    }

    /// Keys the watermark has passed so far.
    pub fn passed(&self) -> usize {
        self.passed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_waits_for_the_oldest_and_then_jumps() {
        let mut w = Window::default();
        for k in [b"a", b"b", b"c", b"d"] {
            w.started(k.to_vec());
        }
        w.ended(b"b");
        w.ended(b"c");
        assert_eq!(w.watermark(), None, "a is still out");
        w.ended(b"a");
        assert_eq!(w.watermark(), Some(&b"c"[..]));
        assert_eq!(w.open(), 1);
        w.started(b"e".to_vec());
        w.ended(b"e");
        assert_eq!(w.watermark(), Some(&b"c"[..]), "d is still out");
        w.ended(b"d");
        assert_eq!(w.watermark(), Some(&b"e"[..]));
        assert_eq!(w.open(), 0);
        assert_eq!(w.passed(), 5);
    }
}
