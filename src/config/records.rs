//! The DNS records a mail domain needs, in zone-file form, for the operator to publish
//! (`moxctl domain add`, later `moxide quickstart`).

use crate::address::Domain;

/// Records for `domain` served by `hostname`, with the DKIM selectors given as (name, TXT
/// value). Names are in ASCII (A-label) form with a final dot, as zone files want them.
pub fn dns_records(domain: &Domain, hostname: &Domain, dkim: &[(String, String)]) -> String {
    let d = domain.ascii();
    let h = hostname.ascii();
    let mut rows: Vec<(String, String)> = vec![
        // RFC 5321 §5.1: mail for the domain goes to the host named by its MX record.
        (format!("{d}."), format!("MX 10 {h}.")),
        // RFC 7208: the hosts of the MX records may send for the domain; others soft-fail.
        (format!("{d}."), format!("TXT {}", txt("v=spf1 mx ~all"))),
    ];
    for (selector, value) in dkim {
        rows.push((
            format!("{selector}._domainkey.{d}."),
            format!("TXT {}", txt(value)),
        ));
    }
    // RFC 7489: reject what fails, reports to the postmaster.
    rows.push((
        format!("_dmarc.{d}."),
        format!(
            "TXT {}",
            txt(&format!("v=DMARC1; p=reject; rua=mailto:postmaster@{d}"))
        ),
    ));
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (name, data) in rows {
        out.push_str(&format!("{name:width$} 300 IN {data}\n"));
    }
    out.push_str(&format!(
        "; and an A and/or AAAA record for {h}. (the address(es) this server listens on)\n"
    ));
    out
}

/// A TXT value as quoted strings of at most 255 bytes (RFC 1035 §3.3.14), in parentheses when
/// there are several.
fn txt(value: &str) -> String {
    let quoted: Vec<String> = value
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c).replace('"', "\\\"")))
        .collect();
    if quoted.len() == 1 {
        quoted.join("")
    } else {
        format!("( {} )", quoted.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_in_zone_form() {
        let domain = Domain::parse("møx.example").unwrap();
        let host = Domain::parse("mail.example.com").unwrap();
        let long = format!("v=DKIM1; k=rsa; p={}", "A".repeat(380));
        let out = dns_records(
            &domain,
            &host,
            &[
                ("s1".into(), "v=DKIM1; k=ed25519; p=abc".into()),
                ("s2".into(), long),
            ],
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "xn--mx-lka.example.               300 IN MX 10 mail.example.com."
        );
        assert_eq!(
            lines[1],
            "xn--mx-lka.example.               300 IN TXT \"v=spf1 mx ~all\""
        );
        assert_eq!(
            lines[2],
            "s1._domainkey.xn--mx-lka.example. 300 IN TXT \"v=DKIM1; k=ed25519; p=abc\""
        );
        assert!(
            lines[3].starts_with(
                "s2._domainkey.xn--mx-lka.example. 300 IN TXT ( \"v=DKIM1; k=rsa; p=AAA"
            )
        );
        assert!(lines[3].ends_with("AAA\" )"));
        assert_eq!(
            lines[4],
            "_dmarc.xn--mx-lka.example.        300 IN TXT \"v=DMARC1; p=reject; rua=mailto:postmaster@xn--mx-lka.example\""
        );
    }
}
