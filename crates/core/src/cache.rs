//! A read cache whose entries are only as good as a revision.
//!
//! A gallery is read by hundreds of guests at once and changes rarely. The
//! store keeps a revision per album that changes in the same transaction as
//! any change to the album or its photos ([`crate::Album::revision`]); a
//! reader that has the album (it needs it anyway, to decide access) asks
//! the cache for the value made at that revision. A change committed by any
//! process (another api process, a worker marking a photo ready) changes
//! the revision, so the next reader misses and rebuilds: nothing to
//! invalidate, nothing stale, and nothing shared between processes.

use std::{
    collections::{HashMap, VecDeque},
    hash::Hash,
    sync::Mutex,
};

/// Values keyed by `K`, each valid for one revision, bounded by the total
/// of their weights (bytes, for serialized pages). When full, the oldest
/// entries go first.
pub struct RevisionCache<K, V> {
    inner: Mutex<Inner<K, V>>,
    capacity: usize,
}

struct Inner<K, V> {
    entries: HashMap<K, (u64, V, usize)>,
    order: VecDeque<K>,
    weight: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> RevisionCache<K, V> {
    /// A cache holding up to `capacity` in total weight; 0 caches nothing.
    pub fn new(capacity: usize) -> Self {
        Self { inner: Mutex::new(Inner { entries: HashMap::new(), order: VecDeque::new(), weight: 0 }), capacity }
    }

    /// The value stored for `key` at exactly `revision`.
    pub fn get(&self, key: &K, revision: u64) -> Option<V> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match inner.entries.get(key) {
            Some((r, v, _)) if *r == revision => Some(v.clone()),
            _ => None,
        }
    }

    /// Stores `value` for `key` at `revision`, replacing an entry of an
    /// older revision (never a newer one: a slow reader does not put back
    /// what a faster one already replaced). A value heavier than the whole
    /// capacity is not kept.
    pub fn put(&self, key: K, revision: u64, value: V, weight: usize) {
        if weight > self.capacity {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let inner = &mut *inner;
        match inner.entries.get_mut(&key) {
            Some((r, _, _)) if *r > revision => return,
            Some(entry) => {
                inner.weight = inner.weight - entry.2 + weight;
                *entry = (revision, value, weight);
            }
            None => {
                inner.order.push_back(key.clone());
                inner.entries.insert(key, (revision, value, weight));
                inner.weight += weight;
            }
        }
        while inner.weight > self.capacity {
            let Some(old) = inner.order.pop_front() else { break };
            if let Some((_, _, w)) = inner.entries.remove(&old) {
                inner.weight -= w;
            }
        }
    }

    /// Total weight held now.
    pub fn weight(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).weight
    }
}

impl<K, V> std::fmt::Debug for RevisionCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevisionCache").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_serves_only_its_revision() {
        let c = RevisionCache::new(100);
        c.put("a", 3, "three", 1);
        assert_eq!(c.get(&"a", 3), Some("three"));
        assert_eq!(c.get(&"a", 4), None, "a newer revision misses");
        assert_eq!(c.get(&"a", 2), None, "an older one too");
        c.put("a", 4, "four", 1);
        assert_eq!(c.get(&"a", 4), Some("four"));
        c.put("a", 3, "late", 1);
        assert_eq!(c.get(&"a", 4), Some("four"), "a slow reader does not put back an older value");
        assert_eq!(c.weight(), 1);
    }

    #[test]
    fn the_oldest_entries_go_when_full() {
        let c = RevisionCache::new(10);
        for (i, k) in ["a", "b", "c"].into_iter().enumerate() {
            c.put(k, i as u64, k, 4);
        }
        assert_eq!(c.get(&"a", 0), None, "evicted first");
        assert_eq!((c.get(&"b", 1), c.get(&"c", 2)), (Some("b"), Some("c")));
        assert_eq!(c.weight(), 8);
        c.put("huge", 0, "x", 11);
        assert_eq!(c.get(&"huge", 0), None, "heavier than the whole cache: not kept");
        assert_eq!(c.weight(), 8);
        let none = RevisionCache::new(0);
        none.put("a", 0, "a", 1);
        assert_eq!(none.get(&"a", 0), None, "capacity 0 caches nothing");
    }
}
