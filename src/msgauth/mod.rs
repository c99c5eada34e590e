//! Message authentication: checking incoming mail (SPF, DKIM, DMARC, iprev) and the
//! `Authentication-Results` header field.

pub mod results;
pub mod verify;
