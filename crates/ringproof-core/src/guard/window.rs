//! A sliding-window counter in bounded space: events are counted in slots of a fixed width
//! (a hundredth of the window, at least a second), and a slot counts as long as any part
//! of it lies inside the window. So the counter never counts fewer events than happened in
//! the last `window` (the bound holds exactly: at most `limit` events in *any* interval of
//! that length), and at worst a refusal lasts one slot longer than an exact log would make
//! it. A window keeps at most ~100 slots, however many events it counts.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Slots per window.
const SLOTS: i64 = 100;

/// Events in a sliding window. `s` is the slot width in milliseconds, `c` the non-empty
/// slots as `(slot index, count)`, oldest first (the stored form, kept short).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    s: i64,
    c: Vec<(i64, u32)>,
}

impl Window {
    /// The slot width for a window of `window_ms`.
    fn slot_ms(window_ms: i64) -> i64 {
        (window_ms / SLOTS).max(1_000)
    }

    /// Events counted in the window of `window_ms` ending at `now`.
    pub fn count(&self, window_ms: i64, now: Timestamp) -> u64 {
        let from = now.millis() - window_ms;
        self.c
            .iter()
            .filter(|(i, _)| (i + 1) * self.s > from)
            .map(|&(_, n)| u64::from(n))
            .sum()
    }

    /// Whether one more event at `now` keeps the count within `limit`; if not, how many
    /// milliseconds until it would (the oldest counted slots leave the window).
    pub fn room(&self, window_ms: i64, limit: u32, now: Timestamp) -> Result<(), i64> {
        let from = now.millis() - window_ms;
        let live: Vec<_> = self.c.iter().filter(|(i, _)| (i + 1) * self.s > from).collect();
        let mut excess = live.iter().map(|&&(_, n)| u64::from(n)).sum::<u64>() + 1;
        if excess <= u64::from(limit) {
            return Ok(());
        }
        excess -= u64::from(limit);
        // Drop the oldest slots until enough events have left.
        for &&(i, n) in &live {
            if u64::from(n) >= excess {
                return Err(((i + 1) * self.s + window_ms - now.millis()).max(1));
            }
            excess -= u64::from(n);
        }
        // A limit of 0 (nothing allowed) never has room; answer with the whole window.
        Err(window_ms.max(1))
    }

    /// Counts one event at `now`, dropping slots that left the window of `window_ms`.
    pub fn add(&mut self, window_ms: i64, now: Timestamp) {
        if self.s <= 0 {
            self.s = Self::slot_ms(window_ms);
        }
        let from = now.millis() - window_ms;
        let s = self.s;
        self.c.retain(|(i, _)| (i + 1) * s > from);
        let slot = now.millis().div_euclid(s);
        match self.c.last_mut() {
            Some((i, n)) if *i == slot => *n = n.saturating_add(1),
            _ => self.c.push((slot, 1)),
        }
    }

    /// Takes back one event counted at `at` (an admitted attempt that turned out not to
    /// count). Nothing happens if its slot already left.
    pub fn remove(&mut self, at: Timestamp) {
        if self.s <= 0 {
            return;
        }
        let slot = at.millis().div_euclid(self.s);
        if let Some(pos) = self.c.iter().position(|(i, _)| *i == slot) {
            self.c[pos].1 -= 1;
            if self.c[pos].1 == 0 {
                self.c.remove(pos);
            }
        }
    }

    /// The end of the newest counted slot (when the window is empty again, once `window`
    /// has passed after it); `None` if nothing is counted.
    pub fn last_end(&self) -> Option<i64> {
        self.c.last().map(|(i, _)| (i + 1) * self.s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn at(ms: i64) -> Timestamp {
        Timestamp(1_800_000_000_000 + ms)
    }

    /// The bound holds in every interval of the window's length, not only in aligned ones:
    /// a burst at the end of one window and the start of the next is one window.
    #[test]
    fn never_more_than_limit_in_any_window() {
        let w_ms = 10 * MIN;
        let mut w = Window::default();
        let mut admitted = Vec::new();
        // An attempt every 7 s for 2 hours.
        for k in 0..(2 * 3600 / 7) {
            let now = at(k * 7_000);
            if w.room(w_ms, 5, now).is_ok() {
                w.add(w_ms, now);
                admitted.push(now.millis());
            }
        }
        for (n, &t) in admitted.iter().enumerate() {
            let in_window = admitted[n..].iter().take_while(|&&u| u < t + w_ms).count();
            assert!(in_window <= 5, "{in_window} events in the 10 min from {t}");
        }
        // And it is not stingy: over two hours about 5 per 10 minutes got through.
        assert!(admitted.len() >= 50, "{}", admitted.len());
    }

    #[test]
    fn room_says_when_the_oldest_event_leaves() {
        let w_ms = 3_600_000;
        let mut w = Window::default();
        for k in 0..3 {
            w.add(w_ms, at(k * MIN));
        }
        assert_eq!(w.count(w_ms, at(3 * MIN)), 3);
        let wait = w.room(w_ms, 3, at(3 * MIN)).unwrap_err();
        // The first event's slot (36 s wide) ends at 36 s; it leaves the window an hour later.
        assert_eq!(wait, 36_000 + w_ms - 3 * MIN);
        assert!(w.room(w_ms, 3, at(3 * MIN + wait)).is_ok());
        assert!(w.room(w_ms, 3, at(3 * MIN + wait - 1)).is_err());
        assert!(w.room(w_ms, 0, at(0)).is_err());
    }

    #[test]
    fn remove_takes_back_one_event_and_space_stays_bounded() {
        let w_ms = 86_400_000;
        let mut w = Window::default();
        for k in 0..10_000 {
            w.add(w_ms, at(k * 30_000));
        }
        assert!(w.c.len() <= 101, "{} slots", w.c.len());
        let before = w.count(w_ms, at(10_000 * 30_000));
        w.remove(at(9_999 * 30_000));
        assert_eq!(w.count(w_ms, at(10_000 * 30_000)), before - 1);
        w.remove(at(0)); // long gone: nothing happens
        assert_eq!(w.count(w_ms, at(10_000 * 30_000)), before - 1);
    }
}
