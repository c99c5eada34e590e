//! Limits on incoming SMTP per remote address (an IPv6 /64 counts as one address): connections
//! open at once, and messages per minute. Shared by all connections; a connection holds a
//! [`ConnectionSlot`] for as long as it lives.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Limits;

/// Addresses tracked at most for the message rate; older windows go first when full.
const MAX_TRACKED: usize = 100_000;
const MESSAGE_WINDOW: Duration = Duration::from_secs(60);

/// The unit limits count by: the address, or its /64 for IPv6 (one host often has a whole /64).
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[derive(Default)]
struct State {
    connections: HashMap<IpAddr, u32>,
    /// Start of the current window and messages counted in it.
    messages: HashMap<IpAddr, (Instant, u32)>,
}

pub struct IpLimits {
    limits: Limits,
    state: Mutex<State>,
}

/// A connection counted against its address; the count goes down when this is dropped.
pub struct ConnectionSlot {
    limits: Arc<IpLimits>,
    key: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Ok(mut state) = self.limits.state.lock()
            && let Some(n) = state.connections.get_mut(&self.key)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                state.connections.remove(&self.key);
            }
        }
    }
}

impl IpLimits {
    pub fn new(limits: Limits) -> Arc<IpLimits> {
        Arc::new(IpLimits {
            limits,
            state: Mutex::default(),
        })
    }

    /// A slot for a new connection from `ip`, or None when it has too many open already.
    pub fn connect(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionSlot> {
        let key = ip_key(ip);
        let mut state = self.state.lock().ok()?;
        let n = state.connections.entry(key).or_insert(0);
        if *n >= self.limits.smtp_connections_per_ip {
            return None;
        }
        *n += 1;
        Some(ConnectionSlot {
            limits: self.clone(),
            key,
        })
    }

    /// Counts a message transaction from `ip`; false when the address is over its rate.
    pub fn message(&self, ip: IpAddr) -> bool {
        self.message_at(ip, Instant::now())
    }

    fn message_at(&self, ip: IpAddr, now: Instant) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return true;
        };
        if state.messages.len() >= MAX_TRACKED {
            state
                .messages
                .retain(|_, (start, _)| now.duration_since(*start) < MESSAGE_WINDOW);
        }
        let entry = state.messages.entry(ip_key(ip)).or_insert((now, 0));
        if now.duration_since(entry.0) >= MESSAGE_WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= self.limits.smtp_messages_per_ip_per_minute {
            return false;
        }
        entry.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(connections: u32, messages: u32) -> Arc<IpLimits> {
        IpLimits::new(Limits {
            smtp_connections_per_ip: connections,
            smtp_messages_per_ip_per_minute: messages,
        })
    }

    #[test]
    fn connections_are_counted_per_address_and_released() {
        let l = limits(2, 10);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let s1 = l.connect(a).unwrap();
        let _s2 = l.connect(a).unwrap();
        assert!(l.connect(a).is_none());
        assert!(l.connect("192.0.2.2".parse().unwrap()).is_some());
        drop(s1);
        assert!(l.connect(a).is_some());
    }

    #[test]
    fn ipv6_counts_per_64() {
        let l = limits(1, 10);
        let _s = l.connect("2001:db8::1".parse().unwrap()).unwrap();
        assert!(l.connect("2001:db8::ffff:2".parse().unwrap()).is_none());
        assert!(l.connect("2001:db8:0:1::1".parse().unwrap()).is_some());
        assert_eq!(
            ip_key("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn message_rate_window() {
        let l = limits(1, 2);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        assert!(l.message_at(ip, t0));
        assert!(l.message_at(ip, t0));
        assert!(!l.message_at(ip, t0 + Duration::from_secs(30)));
        assert!(l.message_at(ip, t0 + Duration::from_secs(61)));
    }
}
