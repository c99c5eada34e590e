//! The one DNS resolver of the server (hickory, wrapped by mail-auth for SPF, DKIM, DMARC and
//! iprev; the outgoing queue asks it for MX records too), built from the `[dns]` section.

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::MessageAuthenticator;

use crate::config::DnsConfig;

#[derive(Debug, thiserror::Error)]
#[error("setting up the DNS resolver: {0}")]
pub struct DnsSetupError(String);

/// The resolver for `config`: its name servers, or the system's when none are configured.
pub fn resolver(config: &DnsConfig) -> Result<MessageAuthenticator, DnsSetupError> {
    let (resolver_config, mut options) = if config.nameservers.is_empty() {
        hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| DnsSetupError(format!("reading /etc/resolv.conf: {e}")))?
    } else {
        let servers = config
            .nameservers
            .iter()
            .map(|addr| {
                let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
                    .into_iter()
                    .map(|mut c| {
                        c.port = addr.port();
                        c
                    })
                    .collect();
                NameServerConfig::new(addr.ip(), true, connections)
            })
            .collect();
        (
            ResolverConfig::from_name_servers(servers),
            ResolverOpts::default(),
        )
    };
    if let Some(t) = config.timeout {
        options.timeout = t;
    }
    if let Some(a) = config.attempts {
        options.attempts = a;
    }
    // Answers from /etc/hosts are not what SPF and DMARC ask about.
    options.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
    MessageAuthenticator::new(resolver_config, options).map_err(|e| DnsSetupError(e.to_string()))
}
