//! The message as read from stdin: until EOF, or (without `-i`) until a line with a single ".",
//! as traditional sendmail does; line ends made CRLF as SMTP needs them (RFC 5321 §2.3.8).
//! Dots are not unstuffed: the input is a message, not SMTP data.

use std::io::{self, BufRead};

/// Reads the message from `input`. With `ignore_dots` a "." line is content like any other.
pub fn read_message(input: &mut impl BufRead, ignore_dots: bool) -> io::Result<Vec<u8>> {
    let mut message = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let content = strip_line_end(&line);
        if !ignore_dots && content == b"." {
            break;
        }
        message.extend_from_slice(content);
        message.extend_from_slice(b"\r\n");
    }
    Ok(message)
}

/// The line without its LF or CRLF (a last line without either is kept whole).
fn strip_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &str, ignore_dots: bool) -> String {
        let mut input = input.as_bytes();
        String::from_utf8(read_message(&mut input, ignore_dots).unwrap()).unwrap()
    }

    #[test]
    fn line_ends() {
        assert_eq!(read("a\nb\n", true), "a\r\nb\r\n");
        // Existing CRLF stays, no CR doubled.
        assert_eq!(read("a\r\nb\n", true), "a\r\nb\r\n");
        // A last line without an end gets one.
        assert_eq!(read("a\nb", true), "a\r\nb\r\n");
        // A CR inside a line is content.
        assert_eq!(read("a\rb\n", true), "a\rb\r\n");
        assert_eq!(read("", true), "");
    }

    #[test]
    fn dots() {
        let input = "Subject: x\n\nbody\n.\nafter\n";
        assert_eq!(read(input, false), "Subject: x\r\n\r\nbody\r\n");
        assert_eq!(
            read(input, true),
            "Subject: x\r\n\r\nbody\r\n.\r\nafter\r\n"
        );
        assert_eq!(read("body\r\n.\r\nafter\r\n", false), "body\r\n");
        assert_eq!(read("body\n.", false), "body\r\n");
        // Only a lone dot ends it; other dot lines are content, not unstuffed.
        assert_eq!(read("..\n. \n.x\n", false), "..\r\n. \r\n.x\r\n");
    }
}
