//! [`PartitionTrack`]: which offsets of one assigned partition are still unacknowledged, and
//! so how far the group's committed offset may advance.

use std::collections::VecDeque;

/// The deliveries of one partition during one assignment.
///
/// The committable position is the lowest offset still unacknowledged, or one past the last
/// delivered offset when every delivery is acknowledged: acknowledgements may come in any
/// order, and the commit never passes a gap.
#[derive(Debug)]
pub(crate) struct PartitionTrack {
    /// The assignment this track belongs to; deliveries of older assignments are stale.
    pub(crate) generation: u64,
    /// Delivered offsets not yet acknowledged, ascending.
    unacked: VecDeque<i64>,
    /// One past the highest offset delivered.
    next: Option<i64>,
    /// The position last handed out for a commit.
    committed: Option<i64>,
}

impl PartitionTrack {
    pub(crate) fn new(generation: u64) -> Self {
        Self {
            generation,
            unacked: VecDeque::new(),
            next: None,
            committed: None,
        }
    }

    /// Records the delivery of `offset`.
    pub(crate) fn delivered(&mut self, offset: i64) {
        match self.unacked.back() {
            Some(&last) if offset <= last => {
                if let Err(at) = self.unacked.binary_search(&offset) {
                    self.unacked.insert(at, offset);
                }
            }
            _ => self.unacked.push_back(offset),
        }
        self.next = Some(self.next.map_or(offset + 1, |n| n.max(offset + 1)));
    }

    /// Records the acknowledgement of `offset`.
    pub(crate) fn acked(&mut self, offset: i64) {
        if let Ok(at) = self.unacked.binary_search(&offset) {
            self.unacked.remove(at);
        }
    }

    /// The offset the group may commit: the next one it must read again after a restart.
    pub(crate) fn position(&self) -> Option<i64> {
        self.unacked.front().copied().or(self.next)
    }

    /// Where to continue reading when this partition is assigned again to the same consumer:
    /// one past the highest offset delivered.
    pub(crate) fn resume_at(&self) -> Option<i64> {
        self.next
    }

    /// Forgets the last position handed out, so the next [`take_moved`](Self::take_moved)
    /// reports it again (after a failed commit).
    pub(crate) fn forget_commit(&mut self) {
        self.committed = None;
    }

    /// The position, if it moved since the last call.
    pub(crate) fn take_moved(&mut self) -> Option<i64> {
        let position = self.position();
        if position == self.committed {
            return None;
        }
        self.committed = position;
        position
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_only_the_contiguous_acked_prefix() {
        let mut track = PartitionTrack::new(1);
        assert_eq!(track.position(), None);
        for offset in 10..15 {
            track.delivered(offset);
        }
        assert_eq!(track.position(), Some(10));
        track.acked(12);
        track.acked(11);
        assert_eq!(track.position(), Some(10), "10 is not acked: the gap holds");
        track.acked(10);
        assert_eq!(track.position(), Some(13));
        track.acked(14);
        assert_eq!(track.position(), Some(13));
        track.acked(13);
        assert_eq!(track.position(), Some(15));
    }

    #[test]
    fn offsets_with_holes_and_repeated_acks() {
        let mut track = PartitionTrack::new(1);
        track.delivered(3);
        track.delivered(7);
        track.acked(7);
        track.acked(7);
        assert_eq!(track.position(), Some(3));
        track.acked(3);
        assert_eq!(track.position(), Some(8));
        track.acked(99);
        assert_eq!(track.position(), Some(8));
    }

    #[test]
    fn a_redelivered_offset_is_tracked_once_in_order() {
        let mut track = PartitionTrack::new(1);
        track.delivered(5);
        track.delivered(6);
        track.delivered(5);
        track.delivered(4);
        track.acked(5);
        track.acked(6);
        assert_eq!(track.position(), Some(4));
        track.acked(4);
        assert_eq!(track.position(), Some(7));
    }

    #[test]
    fn take_moved_reports_each_position_once() {
        let mut track = PartitionTrack::new(1);
        assert_eq!(track.take_moved(), None);
        track.delivered(0);
        assert_eq!(track.take_moved(), Some(0));
        assert_eq!(track.take_moved(), None);
        track.acked(0);
        assert_eq!(track.take_moved(), Some(1));
        assert_eq!(track.take_moved(), None);
        track.forget_commit();
        assert_eq!(track.take_moved(), Some(1));
    }
}
