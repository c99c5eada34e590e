//! Realistic messages shared by the ENVELOPE, BODYSTRUCTURE and BINARY tests. Sizes and line
//! counts in the expected responses were counted by hand from these texts.

/// A plain text message with the usual header fields; its body is 31 octets in 2 lines.
pub const SIMPLE: &str = concat!(
    "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n",
    "From: Alice Example <alice@example.org>\r\n",
    "To: Bob <bob@example.com>\r\n",
    "Subject: Lunch on Friday?\r\n",
    "Message-ID: <lunch.1@example.org>\r\n",
    "Content-Type: text/plain; charset=utf-8\r\n",
    "Content-Transfer-Encoding: 7bit\r\n",
    "\r\n",
    "Shall we meet at noon?\r\n",
    "Alice\r\n",
);

/// multipart/alternative in quoted-printable (33 and 24 octets, 3 and 1 lines); groups in To and
/// Cc, an encoded-word in From and Subject, In-Reply-To.
pub const ALTERNATIVE: &str = concat!(
    "From: =?utf-8?q?Ren=C3=A9e?= <renee@example.org>\r\n",
    "To: Team: alice@example.org, \"Bob B.\" <bob@example.com>;, carol@example.net\r\n",
    "Cc: undisclosed-recipients:;\r\n",
    "Subject: =?utf-8?q?Caf=C3=A9?= meeting\r\n",
    "Date: Thu, 16 Nov 2023 12:00:00 -0500\r\n",
    "In-Reply-To: <lunch.1@example.org>\r\n",
    "Message-ID: <cafe.2@example.org>\r\n",
    "MIME-Version: 1.0\r\n",
    "Content-Type: multipart/alternative; boundary=alt\r\n",
    "\r\n",
    "--alt\r\n",
    "Content-Type: text/plain; charset=utf-8\r\n",
    "Content-Transfer-Encoding: quoted-printable\r\n",
    "\r\n",
    "Caf=C3=A9 at =\r\n",
    "3?\r\n",
    "=3D see you\r\n",
    "\r\n",
    "--alt\r\n",
    "Content-Type: text/html; charset=utf-8\r\n",
    "Content-Transfer-Encoding: quoted-printable\r\n",
    "\r\n",
    "<p>Caf=C3=A9 at 3?</p>\r\n",
    "\r\n",
    "--alt--\r\n",
);

/// multipart/mixed: a text part (24 octets, no line end before the boundary) and a base64
/// attachment (66 octets) with every Content-* field.
pub const MIXED: &str = concat!(
    "From: Carol <carol@example.net>\r\n",
    "To: dave@example.com\r\n",
    "Subject: Report\r\n",
    "Date: Wed, 15 Nov 2023 09:00:00 +0100\r\n",
    "Message-ID: <report.7@example.net>\r\n",
    "MIME-Version: 1.0\r\n",
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n",
    "\r\n",
    "This is a multi-part message in MIME format.\r\n",
    "--outer\r\n",
    "Content-Type: text/plain; charset=us-ascii\r\n",
    "\r\n",
    "See the attached report.\r\n",
    "--outer\r\n",
    "Content-Type: application/pdf; name=\"report.pdf\"\r\n",
    "Content-Transfer-Encoding: base64\r\n",
    "Content-Disposition: attachment; filename=\"report.pdf\"\r\n",
    "Content-ID: <part2.report@example.net>\r\n",
    "Content-Description: Quarterly report\r\n",
    "Content-Language: en\r\n",
    "Content-Location: http://example.net/report.pdf\r\n",
    "\r\n",
    "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5n\r\n",
    "dGggNiAwIFI+PgpzdHJlYW0K\r\n",
    "--outer--\r\n",
);

/// multipart/mixed with a text part (18 octets, 1 line) and a message/rfc822 part: the
/// forwarded message is 253 octets in 8 lines (7 header fields and the empty line), its body
/// 15 octets with no line end.
pub const NESTED: &str = concat!(
    "From: Dave <dave@example.com>\r\n",
    "To: Carol <carol@example.net>\r\n",
    "Subject: Fwd: Report\r\n",
    "Date: Fri, 17 Nov 2023 08:30:00 +0000\r\n",
    "Message-ID: <fwd.3@example.com>\r\n",
    "MIME-Version: 1.0\r\n",
    "Content-Type: multipart/mixed; boundary=\"fwd\"\r\n",
    "\r\n",
    "--fwd\r\n",
    "Content-Type: text/plain\r\n",
    "\r\n",
    "Forwarded below.\r\n",
    "\r\n",
    "--fwd\r\n",
    "Content-Type: message/rfc822\r\n",
    "Content-Disposition: inline\r\n",
    "\r\n",
    "From: Carol <carol@example.net>\r\n",
    "To: dave@example.com\r\n",
    "Subject: Report\r\n",
    "Date: Wed, 15 Nov 2023 09:00:00 +0100\r\n",
    "Message-ID: <report.7@example.net>\r\n",
    "Content-Type: text/plain; charset=us-ascii\r\n",
    "Content-Transfer-Encoding: quoted-printable\r\n",
    "\r\n",
    "Numbers are up.\r\n",
    "--fwd--\r\n",
);
