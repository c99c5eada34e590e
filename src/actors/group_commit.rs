//! The bookkeeping of group commit, shared by the actors that are sole writers of a store (the
//! account actors, the queue actor): requests wait in line while a batch commits on the blocking
//! pool; the next batch takes all that waited (up to a bound), and each requester is answered
//! with its own outcome once the batch is durable.

use tokio::sync::oneshot;

use crate::store::StoreError;

/// Where a requester waits for the outcome of its operation.
pub type Waiter<Out> = oneshot::Sender<Result<Out, StoreError>>;

pub struct GroupCommit<Op, Out> {
    pending: Vec<(Op, Waiter<Out>)>,
    committing: bool,
    max_batch: usize,
}

impl<Op, Out> GroupCommit<Op, Out> {
    pub fn new(max_batch: usize) -> Self {
        GroupCommit {
            pending: Vec::new(),
            committing: false,
            max_batch,
        }
    }

    /// Puts `op` in line; the receiver gets its outcome once its batch is committed.
    pub fn push(&mut self, op: Op) -> oneshot::Receiver<Result<Out, StoreError>> {
        let (tx, rx) = oneshot::channel();
        self.pending.push((op, tx));
        rx
    }

    /// The next batch to commit, unless one is being committed or nothing waits. The caller
    /// commits it and then calls [`GroupCommit::finished`].
    pub fn next_batch(&mut self) -> Option<(Vec<Op>, Vec<Waiter<Out>>)> {
        if self.committing || self.pending.is_empty() {
            return None;
        }
        self.committing = true;
        let take = self.pending.len().min(self.max_batch);
        Some(self.pending.drain(..take).unzip())
    }

    /// The batch taken by [`GroupCommit::next_batch`] is done.
    pub fn finished(&mut self) {
        self.committing = false;
    }
}

/// Answers each waiter with its outcome, in order.
pub fn answer<Out>(
    waiters: Vec<Waiter<Out>>,
    outcomes: impl IntoIterator<Item = Result<Out, StoreError>>,
) {
    for (waiter, outcome) in waiters.into_iter().zip(outcomes) {
        let _ = waiter.send(outcome);
    }
}

/// Tells every waiter of a batch that could not be committed.
pub fn fail<Out>(waiters: Vec<Waiter<Out>>, why: &str) {
    for waiter in waiters {
        let _ = waiter.send(Err(StoreError::CommitFailed(why.to_string())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_batch_at_a_time_bounded_in_order() {
        let mut g: GroupCommit<u32, u32> = GroupCommit::new(2);
        let mut rxs: Vec<_> = (0..3).map(|i| g.push(i)).collect();
        let (ops, waiters) = g.next_batch().unwrap();
        assert_eq!(ops, vec![0, 1]);
        // While it commits, nothing else is taken.
        assert!(g.next_batch().is_none());
        answer(waiters, ops.iter().map(|o| Ok(o * 10)));
        g.finished();
        assert_eq!(rxs[0].try_recv().unwrap().unwrap(), 0);
        assert_eq!(rxs[1].try_recv().unwrap().unwrap(), 10);
        let (ops, waiters) = g.next_batch().unwrap();
        assert_eq!(ops, vec![2]);
        fail(waiters, "disk on fire");
        assert!(matches!(
            rxs[2].try_recv().unwrap(),
            Err(StoreError::CommitFailed(_))
        ));
        g.finished();
        assert!(g.next_batch().is_none());
    }
}
