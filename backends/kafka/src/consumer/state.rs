//! [`State`]: the deliveries a consumer holds or has ready, per-partition commit positions,
//! and the prefetch bound. Shared by the poll task, the rebalance callbacks, `recv` and the
//! acknowledger, behind one mutex that is never held across a call into librdkafka that
//! waits.

use std::collections::{HashMap, VecDeque};

use courier_core::Message;
use tokio::time::Instant;

use super::{partition::PartitionTrack, slab::Slab, waiting::Waiting};

/// How many records not yet due a consumer holds, per unit of prefetch, before it stops
/// taking records.
const WAITING_PER_PREFETCH: usize = 16;

/// One delivery received and not yet settled.
struct InFlight {
    partition: i32,
    generation: u64,
    offset: i64,
    attempt: u32,
    /// A copy for `nack(requeue)`, which publishes it again; taken when that starts.
    copy: Option<Message>,
}

/// A delivery ready to hand to the application.
pub(crate) struct Ready {
    pub(crate) token: u64,
    pub(crate) partition: i32,
    pub(crate) message: Message,
    pub(crate) attempt: u32,
}

/// How a delivery was settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Done: its offset may be committed.
    Done,
    /// Given up by this consumer (a requeue that could not be published): it no longer counts
    /// against the prefetch, but its offset stays uncommitted, so the group reads it again
    /// after the next rebalance or restart.
    Abandoned,
}

/// Why a delivery could not be settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The consumer has closed; the group will deliver the message again.
    Closed,
    /// No such delivery is outstanding.
    Unknown,
}

/// What [`State::ack_batch`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BatchAcked {
    /// A waiting `recv` should be woken: a ready delivery now fits in the prefetch.
    pub(crate) wake: bool,
    /// How many tokens were not outstanding (the others were settled).
    pub(crate) unknown: usize,
}

/// What one consumer holds.
///
/// The application holds at most `prefetch` unsettled deliveries; at most `prefetch` more
/// wait, received, in a buffer. When the buffer stays full the poll task pauses the
/// partitions (still serving rebalances) and resumes them when it is down to half.
pub(crate) struct State {
    inflight: Slab<InFlight>,
    /// Tracks of the assigned partitions.
    partitions: HashMap<i32, PartitionTrack>,
    /// Tracks of partitions revoked by an eager rebalance, kept until the assignment that
    /// follows says whether they come back to this consumer.
    suspended: HashMap<i32, PartitionTrack>,
    generation: u64,
    /// Received, waiting for `recv`.
    ready: VecDeque<Ready>,
    /// Received, not due yet.
    waiting: Waiting,
    /// Handed to the application and not settled.
    held: usize,
    prefetch: usize,
    /// Whether fetching is paused because the consumer is full.
    pub(crate) paused: bool,
    closed: bool,
}

impl State {
    pub(crate) fn new(prefetch: usize) -> Self {
        Self {
            inflight: Slab::default(),
            partitions: HashMap::new(),
            suspended: HashMap::new(),
            generation: 0,
            ready: VecDeque::new(),
            waiting: Waiting::default(),
            held: 0,
            prefetch: prefetch.max(1),
            paused: false,
            closed: false,
        }
    }

    /// Whether the consumer has closed: `recv` returns `None` once nothing is ready.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Takes in a received record, ready for `recv`.
    pub(crate) fn admit(&mut self, partition: i32, offset: i64, attempt: u32, message: Message) {
        let ready = self.outstanding(partition, offset, attempt, message);
        self.ready.push_back(ready);
    }

    /// Takes in a received record that is not due before `due`: it waits, outstanding, until
    /// [`release_due`](Self::release_due) makes it ready.
    pub(crate) fn admit_at(
        &mut self,
        due: Instant,
        partition: i32,
        offset: i64,
        attempt: u32,
        message: Message,
    ) {
        let ready = self.outstanding(partition, offset, attempt, message);
        self.waiting.hold(due, ready);
    }

    /// When the earliest waiting record is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.waiting.next_due()
    }

    /// Makes the waiting records due by `now` ready; returns whether any was.
    pub(crate) fn release_due(&mut self, now: Instant) -> bool {
        let due = self.waiting.take_due(now);
        let any = !due.is_empty();
        self.ready.extend(due);
        any
    }

    /// Records `offset` of `partition` as outstanding, returning the delivery to hand out.
    fn outstanding(
        &mut self,
        partition: i32,
        offset: i64,
        attempt: u32,
        message: Message,
    ) -> Ready {
        let generation = self.received(partition, offset).generation;
        let token = self.inflight.insert(InFlight {
            partition,
            generation,
            offset,
            attempt,
            copy: Some(message.clone()),
        }) as u64;
        Ready {
            token,
            partition,
            message,
            attempt,
        }
    }

    /// Passes over a received record that is not for this group (a copy requeued for
    /// another): its offset counts as done at once.
    pub(crate) fn skip(&mut self, partition: i32, offset: i64) {
        self.received(partition, offset).acked(offset);
    }

    /// Records that `offset` of `partition` was received, tracking the partition from now on
    /// if it was not yet; returns its track.
    fn received(&mut self, partition: i32, offset: i64) -> &mut PartitionTrack {
        let generation = self.generation;
        let track = self
            .partitions
            .entry(partition)
            .or_insert_with(|| PartitionTrack::new(generation));
        track.delivered(offset);
        track
    }

    /// Hands up to `max` ready deliveries to the application, never more than the prefetch
    /// allows it to hold. Also says whether the poll task should be woken: the buffer of
    /// ready deliveries is no longer full, or fetching may resume.
    pub(crate) fn take(&mut self, max: usize) -> (Vec<Ready>, bool) {
        let was_full = self.buffer_full();
        let room = self.prefetch.saturating_sub(self.held);
        let n = max.min(room).min(self.ready.len());
        self.held += n;
        let taken = self.ready.drain(..n).collect();
        let wake = n > 0 && ((was_full && !self.buffer_full()) || self.should_resume());
        (taken, wake)
    }

    /// Whether the buffer of received deliveries the application has not taken yet is full
    /// (it holds `prefetch`): the poll task stops taking records from librdkafka.
    pub(crate) fn buffer_full(&self) -> bool {
        self.ready.len() >= self.prefetch || self.waiting_full()
    }

    /// Whether as many records wait for their time as the consumer holds.
    fn waiting_full(&self) -> bool {
        self.waiting.len() >= self.prefetch.saturating_mul(WAITING_PER_PREFETCH)
    }

    /// Whether fetching should pause: the buffer stayed full and fetching is not paused yet.
    pub(crate) fn should_pause(&self) -> bool {
        !self.paused && self.buffer_full()
    }

    /// Whether fetching should resume: paused, and the buffer down to half.
    pub(crate) fn should_resume(&self) -> bool {
        self.paused
            && self.ready.len() <= self.prefetch / 2
            && self.waiting.len() <= self.prefetch.saturating_mul(WAITING_PER_PREFETCH) / 2
    }

    fn track_mut(&mut self, partition: i32, generation: u64) -> Option<&mut PartitionTrack> {
        self.partitions
            .get_mut(&partition)
            .or_else(|| self.suspended.get_mut(&partition))
            .filter(|track| track.generation == generation)
    }

    /// Settles delivery `token`. Returns whether a waiting `recv` should be woken: a ready
    /// delivery now fits in the prefetch.
    pub(crate) fn settle(&mut self, token: u64, outcome: Outcome) -> Result<bool, Refused> {
        if self.closed {
            return Err(Refused::Closed);
        }
        if !self.release(token, outcome) {
            return Err(Refused::Unknown);
        }
        Ok(self.has_room())
    }

    /// Removes the outstanding delivery `token`, counting its offset acknowledged when
    /// `outcome` is [`Outcome::Done`]; `false` when no such delivery is outstanding.
    fn release(&mut self, token: u64, outcome: Outcome) -> bool {
        let Some(entry) = usize::try_from(token)
            .ok()
            .and_then(|key| self.inflight.remove(key))
        else {
            return false;
        };
        self.held = self.held.saturating_sub(1);
        if outcome == Outcome::Done {
            if let Some(track) = self.track_mut(entry.partition, entry.generation) {
                track.acked(entry.offset);
            }
        }
        true
    }

    /// Whether a ready delivery now fits in the prefetch.
    fn has_room(&self) -> bool {
        !self.ready.is_empty() && self.held < self.prefetch
    }

    /// Marks the deliveries `tokens` done in one pass, as [`settle`](State::settle) with
    /// [`Outcome::Done`] does for one. Known tokens are settled even when others are unknown.
    pub(crate) fn ack_batch(&mut self, tokens: &[u64]) -> Result<BatchAcked, Refused> {
        if self.closed {
            return Err(Refused::Closed);
        }
        let unknown = tokens
            .iter()
            .filter(|&&token| !self.release(token, Outcome::Done))
            .count();
        Ok(BatchAcked {
            wake: unknown < tokens.len() && self.has_room(),
            unknown,
        })
    }

    /// The copy of delivery `token` to publish again, with its attempt number. The delivery
    /// stays outstanding until [`settle`](State::settle).
    pub(crate) fn take_for_requeue(&mut self, token: u64) -> Result<(Message, u32), Refused> {
        if self.closed {
            return Err(Refused::Closed);
        }
        let entry = usize::try_from(token)
            .ok()
            .and_then(|key| self.inflight.get_mut(key))
            .ok_or(Refused::Unknown)?;
        let copy = entry.copy.take().ok_or(Refused::Unknown)?;
        Ok((copy, entry.attempt))
    }

    /// Stops tracking `partitions`, revoked, and returns their positions to commit.
    ///
    /// With `suspend` (an eager rebalance, where every partition is revoked and the next
    /// assignment follows), the tracks are kept until [`assigned`](State::assigned): a
    /// partition that comes back continues where it was, without reading again what this
    /// consumer holds. Otherwise deliveries still held from them become stale (settling them
    /// frees their prefetch slot and nothing else) and those not yet received are dropped:
    /// the next owner reads them.
    pub(crate) fn revoked(&mut self, partitions: &[i32], suspend: bool) -> Vec<(i32, i64)> {
        let mut positions = Vec::with_capacity(partitions.len());
        let mut gone = Vec::new();
        for &partition in partitions {
            if let Some(track) = self.partitions.remove(&partition) {
                positions.extend(track.position().map(|p| (partition, p)));
                if suspend {
                    self.suspended.insert(partition, track);
                } else {
                    gone.push(partition);
                }
            }
        }
        self.drop_ready(&gone);
        positions
    }

    /// Starts tracking `partitions`, newly assigned. Returns where to start reading the
    /// partitions that come back from an eager revocation (one past what this consumer
    /// received); the others start at the group's committed offset.
    pub(crate) fn assigned(&mut self, partitions: &[i32]) -> Vec<(i32, i64)> {
        self.generation += 1;
        let mut resume = Vec::new();
        for &partition in partitions {
            let track = match self.suspended.remove(&partition) {
                Some(track) => {
                    resume.extend(track.resume_at().map(|next| (partition, next)));
                    track
                }
                None => PartitionTrack::new(self.generation),
            };
            self.partitions.insert(partition, track);
        }
        let gone: Vec<i32> = self.suspended.drain().map(|(p, _)| p).collect();
        self.drop_ready(&gone);
        resume
    }

    /// Drops the deliveries of `partitions` that `recv` has not taken yet.
    fn drop_ready(&mut self, partitions: &[i32]) {
        if partitions.is_empty() {
            return;
        }
        let inflight = &mut self.inflight;
        for token in self.waiting.drop_partitions(partitions) {
            inflight.remove(token as usize);
        }
        self.ready.retain(|ready| {
            let keep = !partitions.contains(&ready.partition);
            if !keep {
                inflight.remove(ready.token as usize);
            }
            keep
        });
    }

    /// The positions that moved since last asked, to commit.
    pub(crate) fn moved_positions(&mut self) -> Vec<(i32, i64)> {
        self.partitions
            .iter_mut()
            .filter_map(|(&partition, track)| track.take_moved().map(|p| (partition, p)))
            .collect()
    }

    /// Reports every position again at the next [`moved_positions`](Self::moved_positions),
    /// after a commit failed.
    pub(crate) fn recommit_all(&mut self) {
        self.partitions
            .values_mut()
            .for_each(PartitionTrack::forget_commit);
    }

    /// Closes: every later settlement is refused and nothing more is handed out. Returns the
    /// positions to commit.
    pub(crate) fn close(&mut self) -> Vec<(i32, i64)> {
        self.closed = true;
        let positions = self
            .partitions
            .drain()
            .filter_map(|(partition, track)| track.position().map(|p| (partition, p)))
            .collect();
        self.suspended.clear();
        self.ready.clear();
        self.waiting.clear();
        self.inflight.clear();
        self.held = 0;
        positions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: i64) -> Message {
        Message::new(n.to_string())
    }

    fn one(state: &mut State) -> Ready {
        state.take(1).0.pop().expect("a ready delivery")
    }

    #[test]
    fn the_application_holds_at_most_prefetch_and_the_buffer_as_much_again() {
        let mut state = State::new(4);
        state.assigned(&[0]);
        for offset in 0..4 {
            state.admit(0, offset, 1, msg(offset));
        }
        assert!(state.buffer_full());
        let (taken, wake) = state.take(10);
        assert_eq!(taken.len(), 4);
        assert!(wake, "the buffer has room again");
        for offset in 4..8 {
            state.admit(0, offset, 1, msg(offset));
        }
        assert_eq!(state.take(10).0.len(), 0, "the application holds 4 already");
        assert!(state.should_pause());
        state.paused = true;
        assert_eq!(state.settle(taken[1].token, Outcome::Done), Ok(true));
        let (more, wake) = state.take(10);
        assert_eq!(more.len(), 1);
        assert!(wake, "no longer full");
        assert!(!state.should_resume(), "3 waiting > 4/2");
        state
            .settle(taken[0].token, Outcome::Done)
            .expect("settles");
        let (more, wake) = state.take(10);
        assert_eq!(more.len(), 1);
        assert!(wake, "2 waiting: resume");
        assert!(state.should_resume());
        assert_eq!(state.moved_positions(), vec![(0, 2)]);
        state
            .settle(taken[2].token, Outcome::Done)
            .expect("settles");
        state
            .settle(taken[3].token, Outcome::Done)
            .expect("settles");
        assert_eq!(state.moved_positions(), vec![(0, 4)]);
        assert_eq!(state.moved_positions(), vec![]);
    }

    #[test]
    fn a_record_not_due_waits_outstanding_while_later_ones_flow() {
        let mut state = State::new(4);
        state.assigned(&[0]);
        let now = Instant::now();
        state.admit_at(now + std::time::Duration::from_secs(5), 0, 0, 2, msg(0));
        state.admit(0, 1, 1, msg(1));
        let (taken, _) = state.take(10);
        assert_eq!(taken.len(), 1, "only the record that is due");
        state
            .settle(taken[0].token, Outcome::Done)
            .expect("settles");
        assert_eq!(
            state.moved_positions(),
            vec![(0, 0)],
            "the waiting record holds the commit at its offset"
        );
        assert!(!state.release_due(now + std::time::Duration::from_secs(4)));
        assert_eq!(
            state.next_due(),
            Some(now + std::time::Duration::from_secs(5))
        );
        assert!(state.release_due(now + std::time::Duration::from_secs(5)));
        let late = one(&mut state);
        assert_eq!(late.attempt, 2);
        state.settle(late.token, Outcome::Done).expect("settles");
        assert_eq!(state.moved_positions(), vec![(0, 2)]);
    }

    #[test]
    fn a_revoked_partition_drops_its_waiting_records() {
        let mut state = State::new(4);
        state.assigned(&[0]);
        state.admit_at(Instant::now(), 0, 0, 1, msg(0));
        state.revoked(&[0], false);
        assert!(!state.release_due(Instant::now()));
        assert_eq!(state.take(10).0.len(), 0);
    }

    #[test]
    fn a_batch_ack_settles_every_known_token_at_once() {
        let mut state = State::new(4);
        state.assigned(&[0, 1]);
        for offset in 0..3 {
            state.admit(0, offset, 1, msg(offset));
        }
        state.admit(1, 9, 1, msg(9));
        state.admit(0, 3, 1, msg(3));
        let (taken, _) = state.take(10);
        assert_eq!(taken.len(), 4, "the prefetch bound");
        let tokens: Vec<u64> = taken.iter().map(|r| r.token).collect();
        assert_eq!(
            state.ack_batch(&tokens[..3]),
            Ok(BatchAcked {
                wake: true,
                unknown: 0
            })
        );
        let mut positions = state.moved_positions();
        positions.sort_unstable();
        assert_eq!(positions, vec![(0, 3), (1, 9)], "offset 3 is not taken yet");
        assert_eq!(state.take(10).0.len(), 1, "room for the one left ready");
        // Settled already: unknown; the others in the batch are still settled.
        assert_eq!(
            state.ack_batch(&[tokens[0], tokens[3]]),
            Ok(BatchAcked {
                wake: false,
                unknown: 1
            })
        );
        let mut positions = state.moved_positions();
        positions.sort_unstable();
        assert_eq!(positions, vec![(1, 10)]);
        assert_eq!(state.ack_batch(&[]).map(|b| b.unknown), Ok(0));
        state.close();
        assert_eq!(state.ack_batch(&tokens), Err(Refused::Closed));
    }

    #[test]
    fn settles_once_and_refuses_after_close() {
        let mut state = State::new(8);
        state.assigned(&[0]);
        state.admit(0, 5, 1, msg(5));
        state.admit(0, 6, 1, msg(6));
        let a = one(&mut state);
        let b = one(&mut state);
        assert_eq!(state.settle(a.token, Outcome::Done), Ok(false));
        assert_eq!(state.settle(a.token, Outcome::Done), Err(Refused::Unknown));
        assert_eq!(state.close(), vec![(0, 6)]);
        assert!(state.is_closed());
        assert_eq!(state.settle(b.token, Outcome::Done), Err(Refused::Closed));
    }

    #[test]
    fn abandoned_frees_the_slot_but_keeps_the_gap() {
        let mut state = State::new(8);
        state.assigned(&[3]);
        state.admit(3, 0, 1, msg(0));
        state.admit(3, 1, 2, msg(1));
        let a = one(&mut state);
        let b = one(&mut state);
        let (copy, attempt) = state.take_for_requeue(b.token).expect("outstanding");
        assert_eq!(copy, b.message);
        assert_eq!(attempt, 2);
        assert_eq!(state.take_for_requeue(b.token), Err(Refused::Unknown));
        state.settle(b.token, Outcome::Abandoned).expect("settles");
        state.settle(a.token, Outcome::Done).expect("settles");
        assert_eq!(state.take(10).0.len(), 0);
        assert_eq!(state.moved_positions(), vec![(3, 1)]);
    }

    #[test]
    fn a_partition_revoked_for_good_makes_its_deliveries_stale() {
        let mut state = State::new(8);
        state.assigned(&[0, 1]);
        state.admit(0, 0, 1, msg(0));
        state.admit(1, 0, 1, msg(10));
        let a = one(&mut state);
        let positions = state.revoked(&[0, 1], false);
        assert_eq!(positions.len(), 2);
        assert!(state.take(10).0.is_empty(), "not yet received: dropped");
        assert!(state.assigned(&[0]).is_empty());
        // The stale ack frees the slot but does not touch the new assignment's track.
        assert_eq!(state.settle(a.token, Outcome::Done), Ok(false));
        state.admit(0, 0, 1, msg(0));
        let again = one(&mut state);
        assert_eq!(state.moved_positions(), vec![(0, 0)]);
        state.settle(again.token, Outcome::Done).expect("settles");
        assert_eq!(state.moved_positions(), vec![(0, 1)]);
    }

    #[test]
    fn an_eager_rebalance_continues_partitions_that_come_back() {
        let mut state = State::new(8);
        state.assigned(&[0, 1]);
        state.admit(0, 7, 1, msg(7));
        state.admit(0, 8, 1, msg(8));
        state.admit(1, 3, 1, msg(3));
        let held = one(&mut state);
        let mut positions = state.revoked(&[0, 1], true);
        positions.sort_unstable();
        assert_eq!(positions, vec![(0, 7), (1, 3)]);
        // Acked while suspended: recorded.
        state.settle(held.token, Outcome::Done).expect("settles");
        assert_eq!(
            state.assigned(&[0]),
            vec![(0, 9)],
            "continue after offset 8"
        );
        let left: Vec<(i32, bytes::Bytes)> = state
            .take(10)
            .0
            .into_iter()
            .map(|r| (r.partition, r.message.payload))
            .collect();
        assert_eq!(
            left,
            vec![(0, bytes::Bytes::from("8"))],
            "partition 1's ready delivery was dropped"
        );
        assert_eq!(state.moved_positions(), vec![(0, 8)]);
    }
}
