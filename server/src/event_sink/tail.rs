//! The last events written, kept in memory for the console's live tail (`/ui`): the
//! seed's Kibana "Errors" table without Elasticsearch. Filled by the writer thread as it
//! writes, so requests pay nothing for it; bounded to [`TAIL_CAPACITY`] events.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Events the tail keeps.
pub const TAIL_CAPACITY: usize = 500;

/// The recent events as their JSON documents, each with a sequence number.
#[derive(Default)]
pub struct EventTail {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The sequence number the next event gets (the first is 1).
    next: u64,
    events: VecDeque<(u64, String)>,
}

impl EventTail {
    /// Keeps `document` (an event's JSON), forgetting the oldest past the capacity.
    pub fn push(&self, document: &[u8]) {
        let mut inner = self.inner.lock().expect("event tail lock");
        inner.next += 1;
        let seq = inner.next;
        if inner.events.len() == TAIL_CAPACITY {
            inner.events.pop_front();
        }
        inner
            .events
            .push_back((seq, String::from_utf8_lossy(document).into_owned()));
    }

    /// The events after sequence number `after`, oldest first, at most `limit` (the newest
    /// of them), and the newest sequence number so far.
    pub fn after(&self, after: u64, limit: usize) -> (Vec<(u64, String)>, u64) {
        let inner = self.inner.lock().expect("event tail lock");
        // Oldest first and numbered in order: the newer ones are the last of the queue.
        let newer = inner.events.iter().filter(|(seq, _)| *seq > after).count();
        let skip = inner.events.len() - newer.min(limit);
        (
            inner.events.iter().skip(skip).cloned().collect(),
            inner.next,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_bounded_and_reads_from_a_sequence_number() {
        let tail = EventTail::default();
        for i in 0..TAIL_CAPACITY + 10 {
            tail.push(format!("{{\"n\":{i}}}").as_bytes());
        }
        let (all, newest) = tail.after(0, usize::MAX);
        assert_eq!(all.len(), TAIL_CAPACITY);
        assert_eq!(newest, (TAIL_CAPACITY + 10) as u64);
        assert_eq!(all[0].0, 11, "the oldest ten were forgotten");
        let (last_two, _) = tail.after(newest - 2, usize::MAX);
        assert_eq!(last_two.len(), 2);
        let (limited, _) = tail.after(0, 3);
        assert_eq!(limited.last().unwrap().0, newest, "the newest are kept");
    }
}
