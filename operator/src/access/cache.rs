//! A small, bounded cache of access decisions, so that a Prometheus scraping every 15 s
//! costs the API server one TokenReview and one SubjectAccessReview per TTL instead of
//! per scrape. Keys hold a SHA-256 digest of the token, never the token itself. Pure:
//! the caller passes the time.

use super::decision::Decision;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long decisions live and how many are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    /// Lifetime of an `Allowed` decision: how long a revoked token or binding may still
    /// read metrics.
    pub allowed_ttl: Duration,
    /// Lifetime of a `Forbidden` or `Unauthenticated` decision: how long a new binding
    /// waits to take effect.
    pub denied_ttl: Duration,
    /// Decisions kept at most; a client sending many different tokens evicts only the
    /// decisions nearest to expiry and cannot grow the operator's memory.
    pub capacity: usize,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            allowed_ttl: Duration::from_secs(60),
            denied_ttl: Duration::from_secs(10),
            capacity: 1024,
        }
    }
}

/// Which caller asked for which namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    token_sha256: [u8; 32],
    namespace: String,
}

impl Key {
    pub fn new(token: &str, namespace: &str) -> Key {
        Key {
            token_sha256: Sha256::digest(token.as_bytes()).into(),
            namespace: namespace.to_string(),
        }
    }
}

struct Entry {
    decision: Decision,
    expires: Instant,
}

pub struct DecisionCache {
    policy: CachePolicy,
    entries: HashMap<Key, Entry>,
}

impl DecisionCache {
    pub fn new(policy: CachePolicy) -> DecisionCache {
        DecisionCache {
            policy,
            entries: HashMap::new(),
        }
    }

    /// The decision for `key` if it has not expired at `now`.
    pub fn get(&mut self, key: &Key, now: Instant) -> Option<Decision> {
        match self.entries.get(key) {
            Some(e) if e.expires > now => Some(e.decision.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Remembers `decision` for its TTL. When full, expired entries go first, then the
    /// one closest to expiry.
    pub fn insert(&mut self, key: Key, decision: Decision, now: Instant) {
        if self.policy.capacity == 0 {
            return;
        }
        if !self.entries.contains_key(&key) && self.entries.len() >= self.policy.capacity {
            self.entries.retain(|_, e| e.expires > now);
            if self.entries.len() >= self.policy.capacity
                && let Some(soonest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone())
            {
                self.entries.remove(&soonest);
            }
        }
        let ttl = match decision {
            Decision::Allowed { .. } => self.policy.allowed_ttl,
            Decision::Forbidden { .. } | Decision::Unauthenticated => self.policy.denied_ttl,
        };
        self.entries.insert(
            key,
            Entry {
                decision,
                expires: now + ttl,
            },
        );
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Decision {
        Decision::Allowed {
            user: "system:serviceaccount:racing:monza-prometheus".into(),
        }
    }

    fn policy(capacity: usize) -> CachePolicy {
        CachePolicy {
            allowed_ttl: Duration::from_secs(60),
            denied_ttl: Duration::from_secs(10),
            capacity,
        }
    }

    /// A decision is served until its TTL, then asked for again; denials live shorter.
    #[test]
    fn decisions_expire_after_their_ttl() {
        let t0 = Instant::now();
        let mut c = DecisionCache::new(policy(8));
        let yes = Key::new("token-a", "racing");
        let no = Key::new("token-b", "racing");
        c.insert(yes.clone(), allowed(), t0);
        c.insert(no.clone(), Decision::Unauthenticated, t0);
        let later = |s| t0 + Duration::from_secs(s);
        assert_eq!(c.get(&yes, later(59)), Some(allowed()));
        assert_eq!(c.get(&no, later(9)), Some(Decision::Unauthenticated));
        assert_eq!(c.get(&no, later(10)), None, "denials expire after 10 s");
        assert_eq!(c.get(&yes, later(60)), None, "allowances after 60 s");
        assert!(c.is_empty(), "expired entries are dropped when met");
    }

    /// The same token asking for another namespace is a different question.
    #[test]
    fn namespace_is_part_of_the_key() {
        let t0 = Instant::now();
        let mut c = DecisionCache::new(policy(8));
        c.insert(Key::new("t", "racing"), allowed(), t0);
        assert_eq!(c.get(&Key::new("t", "elsewhere"), t0), None);
        assert_eq!(c.get(&Key::new("other", "racing"), t0), None);
        assert_eq!(c.get(&Key::new("t", "racing"), t0), Some(allowed()));
    }

    /// A flood of distinct tokens never grows the cache past its capacity; expired
    /// entries are evicted first, then the one nearest to expiry.
    #[test]
    fn capacity_is_bounded() {
        let t0 = Instant::now();
        let mut c = DecisionCache::new(policy(3));
        c.insert(Key::new("keep", "racing"), allowed(), t0);
        for i in 0..100 {
            c.insert(
                Key::new(&format!("junk-{i}"), "racing"),
                Decision::Unauthenticated,
                t0 + Duration::from_millis(i),
            );
            assert!(c.len() <= 3);
        }
        // The long-lived allowance outlived the flood of short denials.
        assert_eq!(
            c.get(&Key::new("keep", "racing"), t0 + Duration::from_secs(1)),
            Some(allowed())
        );
        // After the denials expired, new entries replace them, not the allowance.
        let t1 = t0 + Duration::from_secs(30);
        c.insert(Key::new("new", "racing"), Decision::Unauthenticated, t1);
        assert_eq!(c.get(&Key::new("keep", "racing"), t1), Some(allowed()));
        assert_eq!(
            c.get(&Key::new("new", "racing"), t1),
            Some(Decision::Unauthenticated)
        );
    }

    /// The key holds a digest: the token's bytes are nowhere in it.
    #[test]
    fn key_does_not_hold_the_token() {
        let k = Key::new("secret-token-value", "racing");
        assert!(!format!("{k:?}").contains("secret-token-value"));
        assert_ne!(k, Key::new("secret-token-valuf", "racing"));
    }
}
