//! Many analyzers over one reading of a trace, on as many threads as there
//! are cores: [`Pool`] holds the analyzers and a window of shared batches,
//! and each worker takes the analyzer furthest behind whose next batch is
//! in the window, replays it, and puts it back.
//!
//! One thread per analyzer (as before) left the operating system to share
//! two cores among four or nine busy threads, switching between them and
//! waking them as batches came; here a core never waits while an analyzer
//! has work, and an analyzer never runs on two cores at once, so its batches
//! stay in order.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use memtrace::Event;

use crate::{prefetch, Analyzer};

/// Batches held at once: the reader waits when the slowest analyzer is
/// this far behind it.
const WINDOW: usize = 8;

/// The analyzers and the batches they share.
pub(crate) struct Pool<A> {
    state: Mutex<State<A>>,
    changed: Condvar,
}

struct State<A> {
    /// Batches `first..first + len`, each needed by some analyzer.
    batches: VecDeque<Arc<Vec<Event>>>,
    first: u64,
    /// `None` while a worker replays it.
    analyzers: Vec<Option<A>>,
    /// The batch each analyzer needs next.
    next: Vec<u64>,
    /// No batch will come.
    closed: bool,
    /// A worker panicked: everyone stops (the join reports it).
    failed: bool,
}

impl<A> State<A> {
    fn end(&self) -> u64 {
        self.first + self.batches.len() as u64
    }

    /// Drops the batches every analyzer is past.
    fn trim(&mut self) {
        let needed = self.next.iter().copied().min().unwrap_or(self.end());
        while self.first < needed && self.batches.pop_front().is_some() {
            self.first += 1;
        }
    }
}

/// Marks the pool failed if a replay unwinds, so that nobody waits for the
/// analyzer it took.
struct FailOnUnwind<'a, A>(&'a Pool<A>);

impl<A> Drop for FailOnUnwind<'_, A> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().failed = true;
            self.0.changed.notify_all();
        }
    }
}

impl<A> Pool<A> {
    fn lock(&self) -> MutexGuard<'_, State<A>> {
        // Nothing panics while holding the lock; a poisoned lock still holds consistent state.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, State<A>>) -> MutexGuard<'a, State<A>> {
        self.changed.wait(guard).unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// No more batches: workers finish what is in the window.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Closes the pool when dropped: however the reading ends, even by a
    /// panic, the workers finish instead of waiting for batches.
    pub(crate) fn closing(&self) -> impl Drop + '_ {
        struct Closing<'a, A>(&'a Pool<A>);
        impl<A> Drop for Closing<'_, A> {
            fn drop(&mut self) {
                self.0.close();
            }
        }
        Closing(self)
    }
}

impl<A: Analyzer> Pool<A> {
    pub(crate) fn new(analyzers: Vec<A>) -> Pool<A> {
        let n = analyzers.len();
        Pool {
            state: Mutex::new(State {
                batches: VecDeque::new(),
                first: 0,
                analyzers: analyzers.into_iter().map(Some).collect(),
                next: vec![0; n],
                closed: false,
                failed: false,
            }),
            changed: Condvar::new(),
        }
    }

    /// Hands out a batch, once the window has room (returns at once if a
    /// worker failed).
    pub(crate) fn push(&self, batch: Arc<Vec<Event>>) {
        let mut st = self.lock();
        while st.batches.len() >= WINDOW && !st.failed {
            st = self.wait(st);
        }
        st.batches.push_back(batch);
        st.trim();
        self.changed.notify_all();
    }

    /// A worker: replays batches until every analyzer has seen every batch.
    pub(crate) fn work(&self) {
        let _fail = FailOnUnwind(self);
        let mut st = self.lock();
        loop {
            if st.failed {
                return;
            }
            let end = st.end();
            let behind = (0..st.next.len()).filter(|&i| st.analyzers[i].is_some() && st.next[i] < end);
            let pick = behind.min_by_key(|&i| st.next[i]);
            let Some(i) = pick else {
                if st.closed && st.next.iter().all(|&k| k == end) {
                    return;
                }
                st = self.wait(st);
                continue;
            };
            let batch = st.batches[(st.next[i] - st.first) as usize].clone(); // first <= next[i] < end
            let Some(mut analyzer) = st.analyzers[i].take() else { continue };
            drop(st);
            prefetch::replay_batch(&mut analyzer, &batch);
            st = self.lock();
            st.analyzers[i] = Some(analyzer);
            st.next[i] += 1;
            st.trim();
            self.changed.notify_all();
        }
    }

    /// The analyzers, in their order, once the workers are done.
    pub(crate) fn into_analyzers(self) -> Vec<A> {
        let st = self.state.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
        st.analyzers.into_iter().flatten().collect()
    }
}
