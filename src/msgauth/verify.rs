//! Authentication of incoming mail: SPF for the HELO and MAIL FROM identities (RFC 7208), every
//! DKIM signature (RFC 6376), DMARC with alignment and policy (RFC 7489), and iprev
//! (RFC 8601 §3), all through the one shared resolver. The outcome is an
//! `Authentication-Results` header field (RFC 8601) and a disposition for the message.

use std::net::IpAddr;

use mail_auth::dkim::DkimError;
use mail_auth::dmarc::Policy;
use mail_auth::{
    AuthenticatedMessage, DkimResult, DmarcResult, IprevResult, MessageAuthenticator, SpfOutput,
    SpfResult, dmarc::verify::DmarcParameters, spf::verify::SpfParameters,
};

use super::results::{AuthResults, Outcome};

/// What is known of an incoming message when its data is complete.
pub struct Inbound<'a> {
    pub remote_ip: IpAddr,
    /// The EHLO/HELO name the client gave.
    pub helo: &'a str,
    /// The MAIL FROM address (ASCII domain), None for the null reverse path.
    pub mail_from: Option<&'a str>,
    /// Our host name: the authserv-id of the header (RFC 8601 §2.5).
    pub hostname: &'a str,
    /// The message as received.
    pub message: &'a [u8],
}

/// What to do with the message, from its DMARC evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Accept,
    /// DMARC failed under `p=quarantine`: deliver to the Junk mailbox.
    Junk,
    /// DMARC failed under `p=reject`.
    Reject,
    /// A DNS failure kept the policy from being applied: try again later.
    TempFail,
}

/// The DMARC evaluation, in the terms the disposition needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcSummary {
    pub outcome: Outcome,
    /// The policy that applies, None when no record was found (or it could not be fetched).
    pub policy: Option<Policy>,
    /// The RFC 5322 From domain evaluated (empty when DMARC does not apply).
    pub domain: String,
}

impl DmarcSummary {
    /// DMARC's verdict applied: a failure under a reject or quarantine policy, and a DNS failure
    /// that hides what the verdict would be.
    pub fn disposition(&self) -> Disposition {
        match (&self.outcome, self.policy) {
            (Outcome::Pass, _) => Disposition::Accept,
            (Outcome::Fail, Some(Policy::Reject)) => Disposition::Reject,
            (Outcome::Fail, Some(Policy::Quarantine)) => Disposition::Junk,
            // RFC 7489 §6.6.3: the record could not be fetched, or the policy asks for action
            // and alignment could not be decided: the message cannot be judged now.
            (Outcome::TempError, None | Some(Policy::Reject | Policy::Quarantine)) => {
                Disposition::TempFail
            }
            _ => Disposition::Accept,
        }
    }
}

/// The outcome of authenticating one message.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The `Authentication-Results` header field, CRLF-terminated.
    pub header: String,
    pub spf: Outcome,
    pub dkim: Vec<Outcome>,
    pub dmarc: DmarcSummary,
    pub iprev: Outcome,
}

impl Verdict {
    pub fn disposition(&self) -> Disposition {
        self.dmarc.disposition()
    }
}

/// Whether the HELO name is a domain SPF can be checked for (not an address literal).
fn helo_domain(helo: &str) -> Option<&str> {
    (!helo.starts_with('[') && helo.contains('.') && helo.parse::<IpAddr>().is_err())
        .then_some(helo)
}

/// Runs every check for `input` (the lookups run concurrently) and composes the verdict.
pub async fn authenticate(dns: &MessageAuthenticator, input: &Inbound<'_>) -> Verdict {
    let helo = helo_domain(input.helo);
    let message = AuthenticatedMessage::parse(input.message);

    let spf_helo = async {
        match helo {
            Some(h) => Some(
                dns.verify_spf(SpfParameters::verify_ehlo(
                    input.remote_ip,
                    h,
                    input.hostname,
                ))
                .await,
            ),
            None => None,
        }
    };
    let spf_mail_from = async {
        match input.mail_from {
            Some(from) => Some(
                dns.verify_spf(SpfParameters::verify_mail_from(
                    input.remote_ip,
                    helo.unwrap_or(input.helo),
                    input.hostname,
                    from,
                ))
                .await,
            ),
            None => None,
        }
    };
    let dkim = async {
        match &message {
            Some(m) => dns.verify_dkim(m).await,
            None => Vec::new(),
        }
    };
    let iprev = dns.verify_iprev(input.remote_ip);
    let (spf_helo, spf_mail_from, dkim, iprev) =
        futures_util::join!(spf_helo, spf_mail_from, dkim, iprev);

    // RFC 7208 §2.4: with a null reverse path, the HELO identity stands for MAIL FROM.
    let spf_domain = match input.mail_from {
        Some(from) => from.rsplit_once('@').map_or("", |(_, d)| d).to_string(),
        None => helo.unwrap_or_default().to_string(),
    };
    let spf = spf_mail_from.or_else(|| spf_helo.clone());

    let dmarc = match (&message, &spf) {
        (Some(m), Some(spf_output)) => {
            let output = dns
                .verify_dmarc(DmarcParameters::new(m, &dkim, &spf_domain, spf_output))
                .await;
            dmarc_summary(&output)
        }
        (Some(m), None) => {
            // No SPF identity at all (null sender and an address-literal HELO): DMARC goes on
            // with SPF counting as none.
            let none = SpfOutput::new(String::new());
            let output = dns
                .verify_dmarc(DmarcParameters::new(m, &dkim, &spf_domain, &none))
                .await;
            dmarc_summary(&output)
        }
        (None, _) => DmarcSummary {
            outcome: Outcome::None,
            policy: None,
            domain: String::new(),
        },
    };

    let mut results = AuthResults::new(input.hostname);
    results.iprev(iprev_outcome(iprev.result()), input.remote_ip);
    let spf_outcome = spf.as_ref().map_or(Outcome::None, spf_outcome);
    match input.mail_from {
        Some(from) => results.spf_mail_from(spf_outcome.clone(), from),
        None => results.spf_helo(spf_outcome.clone(), input.helo),
    }
    let mut dkim_outcomes = Vec::new();
    if dkim.is_empty() {
        results.dkim_none();
    }
    for d in &dkim {
        let outcome = dkim_outcome(d.result());
        results.dkim(outcome.clone(), d.signature());
        dkim_outcomes.push(outcome);
    }
    results.dmarc(&dmarc);
    Verdict {
        header: results.to_header(),
        spf: spf_outcome,
        dkim: dkim_outcomes,
        dmarc,
        iprev: iprev_outcome(iprev.result()),
    }
}

fn dmarc_summary(output: &mail_auth::DmarcOutput) -> DmarcSummary {
    let outcome = match output.result() {
        DmarcResult::Pass => Outcome::Pass,
        DmarcResult::Fail(_) => Outcome::Fail,
        DmarcResult::TempError(_) => Outcome::TempError,
        DmarcResult::PermError(_) => Outcome::PermError,
        DmarcResult::None => Outcome::None,
    };
    let policy = output.dmarc_record().map(|_| output.policy());
    DmarcSummary {
        outcome,
        policy,
        domain: output.domain().to_string(),
    }
}

fn spf_outcome(output: &SpfOutput) -> Outcome {
    match output.result() {
        SpfResult::Pass => Outcome::Pass,
        SpfResult::Fail => Outcome::Fail,
        SpfResult::SoftFail => Outcome::SoftFail,
        SpfResult::Neutral => Outcome::Neutral,
        SpfResult::TempError => Outcome::TempError,
        SpfResult::PermError => Outcome::PermError,
        SpfResult::None => Outcome::None,
    }
}

fn dkim_outcome(result: &DkimResult) -> Outcome {
    match result {
        DkimResult::Pass => Outcome::Pass,
        // mail-auth reports a body hash that does not match as neutral; RFC 6376 §6.1.3 makes
        // it a failed signature ("body hash did not verify"), which is `fail` in RFC 8601
        // §2.7.1, the same as a header hash that does not verify.
        DkimResult::Neutral(mail_auth::Error::Dkim(DkimError::FailedBodyHashMatch)) => {
            Outcome::Fail
        }
        DkimResult::Neutral(_) => Outcome::Neutral,
        DkimResult::Fail(_) => Outcome::Fail,
        DkimResult::PermError(_) => Outcome::PermError,
        DkimResult::TempError(_) => Outcome::TempError,
        DkimResult::None => Outcome::None,
    }
}

fn iprev_outcome(result: &IprevResult) -> Outcome {
    match result {
        IprevResult::Pass => Outcome::Pass,
        IprevResult::Fail(_) => Outcome::Fail,
        IprevResult::TempError(_) => Outcome::TempError,
        IprevResult::PermError(_) => Outcome::PermError,
        IprevResult::None => Outcome::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(outcome: Outcome, policy: Option<Policy>) -> DmarcSummary {
        DmarcSummary {
            outcome,
            policy,
            domain: "example.org".into(),
        }
    }

    #[test]
    fn dispositions() {
        use Disposition::*;
        let cases = [
            (Outcome::Pass, Some(Policy::Reject), Accept),
            (Outcome::Fail, Some(Policy::Reject), Reject),
            (Outcome::Fail, Some(Policy::Quarantine), Junk),
            (Outcome::Fail, Some(Policy::None), Accept),
            (Outcome::None, None, Accept),
            // A DNS failure never turns into a permanent rejection.
            (Outcome::TempError, None, TempFail),
            (Outcome::TempError, Some(Policy::Reject), TempFail),
            (Outcome::TempError, Some(Policy::Quarantine), TempFail),
            (Outcome::TempError, Some(Policy::None), Accept),
            (Outcome::PermError, None, Accept),
        ];
        for (outcome, policy, want) in cases {
            assert_eq!(
                summary(outcome.clone(), policy).disposition(),
                want,
                "{outcome:?} {policy:?}"
            );
        }
    }

    #[test]
    fn dkim_outcomes() {
        use mail_auth::Error;
        let cases = [
            (DkimResult::Pass, Outcome::Pass),
            (
                DkimResult::Neutral(Error::Dkim(DkimError::FailedBodyHashMatch)),
                Outcome::Fail,
            ),
            (
                DkimResult::Fail(Error::Crypto(
                    mail_auth::common::crypto::CryptoError::FailedVerification,
                )),
                Outcome::Fail,
            ),
            (
                DkimResult::Neutral(Error::Dkim(DkimError::SignatureExpired)),
                Outcome::Neutral,
            ),
            (
                DkimResult::Neutral(Error::Dkim(DkimError::UnsupportedVersion)),
                Outcome::Neutral,
            ),
            (
                DkimResult::PermError(Error::Dkim(DkimError::RevokedPublicKey)),
                Outcome::PermError,
            ),
        ];
        for (result, want) in cases {
            assert_eq!(dkim_outcome(&result), want, "{result:?}");
        }
    }

    #[test]
    fn helo_domains() {
        assert_eq!(helo_domain("mail.example.org"), Some("mail.example.org"));
        assert_eq!(helo_domain("[192.0.2.1]"), None);
        assert_eq!(helo_domain("192.0.2.1"), None);
        assert_eq!(helo_domain("localhost"), None);
    }
}
