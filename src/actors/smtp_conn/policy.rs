//! The decisions an SMTP session asks of its connection: whether a sender may start a
//! transaction (submission: an address of the logged-in account; MX: the per-address message
//! rate) and where each recipient goes (a local account, the outgoing queue, or a refusal).

use std::net::IpAddr;
use std::sync::Arc;

use crate::actors::limits::IpLimits;
use crate::address::{Address, Domain};
use crate::config::{DynamicConfig, Mode};
use crate::protocols::smtp::Reply;
use crate::protocols::smtp::server::{Destination, Policy, RcptDecision};

pub(super) struct ConnPolicy {
    pub dynamic: Arc<DynamicConfig>,
    pub mode: Mode,
    pub submission: bool,
    pub remote: IpAddr,
    pub limits: Arc<IpLimits>,
    /// Our host name: postmaster@ it (and `<Postmaster>`) reach the postmaster account too.
    pub hostname: Domain,
}

impl ConnPolicy {
    fn localserve_account(&self) -> Option<&str> {
        match &self.mode {
            Mode::Localserve { account } => Some(account),
            Mode::Serve => None,
        }
    }
}

/// Whether `address` is one of `account`'s (its own addresses, or a catch-all of its).
pub(super) fn belongs_to(dynamic: &DynamicConfig, address: &Address, account: &str) -> bool {
    dynamic
        .destination(address)
        .is_some_and(|d| d.account == account)
}

impl Policy for ConnPolicy {
    fn sender(&self, from: Option<&Address>, authenticated: Option<&str>) -> Result<(), Reply> {
        if self.localserve_account().is_some() {
            // localserve is for testing mail software: any sender goes.
            return Ok(());
        }
        if self.submission {
            // RFC 6409 §4.3 (and §8.1): the submission server may check the sender is the
            // user's. A null reverse path stays allowed (MDNs are sent with one, RFC 8098 §2.1).
            return match (from, authenticated) {
                (Some(from), Some(account)) if !belongs_to(&self.dynamic, from, account) => {
                    Err(Reply::new(
                        550,
                        (5, 7, 1),
                        format!("{from} is not an address of your account"),
                    ))
                }
                _ => Ok(()),
            };
        }
        if !self.limits.message(self.remote) {
            return Err(Reply::new(
                451,
                (4, 7, 0),
                "too many messages from your address, try again later",
            ));
        }
        Ok(())
    }

    fn recipient(&self, rcpt: &Address, _authenticated: Option<&str>) -> RcptDecision {
        if let Some(account) = self.localserve_account() {
            return RcptDecision::Accept(Destination::Local {
                account: account.to_string(),
            });
        }
        if let Some(d) = self.dynamic.destination(rcpt) {
            return RcptDecision::Accept(Destination::Local { account: d.account });
        }
        if rcpt.domain == self.hostname
            && rcpt.localpart.normalized() == "postmaster"
            && let Some(account) = &self.dynamic.postmaster
        {
            return RcptDecision::Accept(Destination::Local {
                account: account.clone(),
            });
        }
        // Our own host name is ours even when it is no mail domain: mail for it is never
        // relayed (or queued to come back here).
        if self.dynamic.is_local_domain(&rcpt.domain) || rcpt.domain == self.hostname {
            return RcptDecision::Reject(Reply::new(550, (5, 1, 1), "no such user"));
        }
        if self.submission {
            // Authenticated submission may send anywhere: through the outgoing queue.
            return RcptDecision::Accept(Destination::Remote);
        }
        RcptDecision::Reject(Reply::new(
            550,
            (5, 7, 1),
            "not accepting mail for this domain (no relaying)",
        ))
    }
}
