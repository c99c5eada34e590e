//! Commands that add or move messages: APPEND (with MULTIAPPEND, RFC 3502, and BINARY literals,
//! RFC 3516), COPY, MOVE (RFC 6851) and UID EXPUNGE (RFC 4315).

use super::CommandKind;
use super::cursor::{Cursor, PResult};
use crate::store::Flags;

/// One message of an APPEND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    pub flags: Flags,
    pub keywords: Vec<String>,
    /// INTERNALDATE to give the message, seconds since the epoch.
    pub date: Option<i64>,
    pub data: Vec<u8>,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an IMAP date-time, `dd-Mon-yyyy hh:mm:ss +zzzz` (RFC 9051 §9), to seconds since the
/// epoch.
pub fn parse_date_time(s: &str) -> Option<i64> {
    let s = s.trim_start();
    let (date, rest) = s.split_once(' ')?;
    let (time, zone) = rest.split_once(' ')?;
    let mut d = date.split('-');
    let day: i64 = d.next()?.parse().ok()?;
    let month = d.next()?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as i64 + 1;
    let year: i64 = d.next()?.parse().ok()?;
    let mut t = time.split(':');
    let (h, min, sec): (i64, i64, i64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    if d.next().is_some()
        || t.next().is_some()
        || !(1..=31).contains(&day)
        || !(0..24).contains(&h)
        || !(0..60).contains(&min)
        || !(0..=60).contains(&sec)
    {
        return None;
    }
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    if zone.len() != 5 || !zone[1..].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let offset =
        sign * (zone[1..3].parse::<i64>().ok()? * 3600 + zone[3..5].parse::<i64>().ok()? * 60);
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + min * 60 + sec - offset)
}

impl Cursor<'_> {
    /// `APPEND mailbox [flags] [date-time] literal` and, with MULTIAPPEND, more
    /// `SP [flags] [date-time] literal` after it.
    pub(super) fn append(&mut self) -> PResult<CommandKind> {
        self.sp()?;
        let mailbox = self.mailbox()?;
        let mut messages = Vec::new();
        while self.take(b' ') {
            let (mut flags, mut keywords) = (Flags::empty(), Vec::new());
            if self.peek() == Some(b'(') {
                (flags, keywords) = self.flag_list()?;
                self.sp()?;
            }
            let mut date = None;
            if self.peek() == Some(b'"') {
                let text = String::from_utf8(self.quoted()?)
                    .map_err(|_| "date-time is not ASCII".to_string())?;
                date = Some(
                    parse_date_time(&text).ok_or_else(|| format!("invalid date-time {text:?}"))?,
                );
                self.sp()?;
            }
            match self.peek() {
                Some(b'{' | b'~') => {}
                _ => return Err("APPEND needs the message as a literal".into()),
            }
            let data = self.literal()?;
            messages.push(AppendMessage {
                flags,
                keywords,
                date,
                data,
            });
        }
        if messages.is_empty() {
            return Err("APPEND needs a message".into());
        }
        Ok(CommandKind::Append { mailbox, messages })
    }

    /// COPY and MOVE: `set SP mailbox`.
    pub(super) fn copy_or_move(&mut self, uid: bool, is_move: bool) -> PResult<CommandKind> {
        self.sp()?;
        let set = self.seq_set()?;
        self.sp()?;
        let mailbox = self.mailbox()?;
        Ok(if is_move {
            CommandKind::Move { uid, set, mailbox }
        } else {
            CommandKind::Copy { uid, set, mailbox }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times() {
        assert_eq!(
            parse_date_time("17-Jul-1996 02:44:25 -0700"),
            Some(837_596_665)
        );
        assert_eq!(parse_date_time(" 1-Jan-1970 00:00:00 +0000"), Some(0));
        assert_eq!(
            parse_date_time("29-Feb-2024 12:00:00 +0100"),
            Some(1_709_204_400)
        );
        for bad in [
            "",
            "17-Jul-1996",
            "17-Foo-1996 02:44:25 -0700",
            "32-Jul-1996 02:44:25 -0700",
            "17-Jul-1996 25:44:25 -0700",
            "17-Jul-1996 02:44:25 0700",
            "17-Jul-1996 02:44:25 +07",
        ] {
            assert_eq!(parse_date_time(bad), None, "{bad:?}");
        }
    }
}
