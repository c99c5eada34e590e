//! Message authentication: DKIM signing (and, next to it, verification of DKIM, SPF and DMARC).

pub mod sign;
