//! The timer heap: each waiting job's next due instant. Entries are never
//! removed in place; a job that changes gets a new generation and its old
//! entry is skipped when it surfaces (lazy deletion), and the heap is
//! rebuilt when stale entries pile up.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use uuid::Uuid;

/// A min-heap of `(due ms, job, generation)`: 32 bytes an entry.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(i64, Uuid, u32)>>,
}

impl Timers {
    pub(crate) fn push(&mut self, due_ms: i64, job_id: Uuid, generation: u32) {
        self.heap.push(Reverse((due_ms, job_id, generation)));
    }

    /// The earliest entry if it is due at `now_ms`, removed.
    pub(crate) fn pop_due(&mut self, now_ms: i64) -> Option<(Uuid, u32)> {
        let Reverse((due, _, _)) = self.heap.peek()?;
        if *due > now_ms {
            return None;
        }
        self.heap
            .pop()
            .map(|Reverse((_, job, generation))| (job, generation))
    }

    /// When the earliest entry is due (maybe a stale one: waking early is harmless).
    pub(crate) fn next_due(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse((due, _, _))| *due)
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    pub(crate) fn clear(&mut self) {
        self.heap = BinaryHeap::new();
    }

    /// Replaces the entries with `live` ones (used to drop stale entries).
    pub(crate) fn rebuild(&mut self, live: impl Iterator<Item = (i64, Uuid, u32)>) {
        self.heap = live.map(Reverse).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_due_order_and_only_when_due() {
        let mut timers = Timers::default();
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        timers.push(300, a, 0);
        timers.push(100, b, 0);
        timers.push(200, c, 1);
        assert_eq!(timers.next_due(), Some(100));
        assert_eq!(timers.pop_due(50), None);
        assert_eq!(timers.pop_due(250), Some((b, 0)));
        assert_eq!(timers.pop_due(250), Some((c, 1)));
        assert_eq!(timers.pop_due(250), None);
        assert_eq!(timers.len(), 1);
        timers.rebuild(std::iter::empty());
        assert_eq!(timers.next_due(), None);
    }
}
