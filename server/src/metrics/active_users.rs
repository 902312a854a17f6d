//! Distinct users seen over a sliding window (`ml_active_users`), in bounded memory.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

/// Most users remembered. Past it, new users are not counted until old ones expire: a
/// flood of made-up user IDs cannot grow the host's memory.
pub const MAX_TRACKED_USERS: usize = 100_000;

/// Last-seen second per user (by hash of their ID).
#[derive(Debug)]
pub struct ActiveUsers {
    last_seen: HashMap<u64, u64>,
    window_secs: u64,
}

impl ActiveUsers {
    /// Users count as active for `window_secs` after their last request.
    pub fn new(window_secs: u64) -> Self {
        Self {
            last_seen: HashMap::new(),
            window_secs,
        }
    }

    /// Records a request by `user` at second `now`.
    pub fn seen(&mut self, user: &str, now: u64) {
        let mut hasher = DefaultHasher::new();
        user.hash(&mut hasher);
        let key = hasher.finish();
        if self.last_seen.len() >= MAX_TRACKED_USERS && !self.last_seen.contains_key(&key) {
            self.expire(now);
            if self.last_seen.len() >= MAX_TRACKED_USERS {
                return;
            }
        }
        self.last_seen.insert(key, now);
    }

    /// Distinct users seen within the window ending at `now`.
    pub fn count(&mut self, now: u64) -> usize {
        self.expire(now);
        self.last_seen.len()
    }

    fn expire(&mut self, now: u64) {
        let window = self.window_secs;
        self.last_seen
            .retain(|_, seen| now.saturating_sub(*seen) < window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_users_within_the_window() {
        let mut users = ActiveUsers::new(300);
        users.seen("alice", 0);
        users.seen("bob", 10);
        users.seen("alice", 20);
        assert_eq!(users.count(20), 2);
        // alice was last seen at 20, bob at 10: bob leaves first.
        assert_eq!(users.count(315), 1);
        assert_eq!(users.count(400), 0);
    }

    #[test]
    fn memory_is_bounded() {
        let mut users = ActiveUsers::new(300);
        for i in 0..MAX_TRACKED_USERS + 10 {
            users.seen(&format!("user-{i}"), 0);
        }
        assert_eq!(users.count(0), MAX_TRACKED_USERS);
        // Once the old ones expire, new users count again.
        users.seen("late", 300);
        assert_eq!(users.count(300), 1);
    }
}
