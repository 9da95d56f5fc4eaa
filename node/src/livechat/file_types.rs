//! The file types the live chat accepts and how each is recognised from its first bytes
//! (its "magic"), so a file is taken for what it is, not for what its name or the browser
//! says. Pure functions, used by [`super::files`] when a channel's settings change (only
//! recognised types may be allowed) and for every upload.
//!
//! Deliberately absent: HTML, SVG and anything else a browser would run as a page or script;
//! files are always downloaded (`Content-Disposition: attachment`, `nosniff`), never shown
//! inline, and a text file must be UTF-8 without NUL bytes.

/// How a type is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Magic {
    /// The content starts with these bytes.
    Prefix(&'static [u8]),
    /// RIFF container with this form type at bytes 8..12 (WebP).
    Riff(&'static [u8; 4]),
    /// UTF-8 text without NUL bytes that starts with no binary type's magic.
    Text,
}

/// A recognised type: MIME type, file name extensions, magic.
struct Known {
    mime: &'static str,
    extensions: &'static [&'static str],
    magic: &'static [Magic],
}

const KNOWN: &[Known] = &[
    Known {
        mime: "image/png",
        extensions: &["png"],
        magic: &[Magic::Prefix(b"\x89PNG\r\n\x1a\n")],
    },
    Known {
        mime: "image/jpeg",
        extensions: &["jpg", "jpeg"],
        magic: &[Magic::Prefix(b"\xff\xd8\xff")],
    },
    Known {
        mime: "image/gif",
        extensions: &["gif"],
        magic: &[Magic::Prefix(b"GIF87a"), Magic::Prefix(b"GIF89a")],
    },
    Known {
        mime: "image/webp",
        extensions: &["webp"],
        magic: &[Magic::Riff(b"WEBP")],
    },
    Known {
        mime: "application/pdf",
        extensions: &["pdf"],
        magic: &[Magic::Prefix(b"%PDF-")],
    },
    Known {
        mime: "application/zip",
        extensions: &["zip"],
        magic: &[Magic::Prefix(b"PK\x03\x04"), Magic::Prefix(b"PK\x05\x06")],
    },
    Known {
        mime: "text/plain",
        extensions: &["txt", "log"],
        magic: &[Magic::Text],
    },
    Known {
        mime: "text/csv",
        extensions: &["csv"],
        magic: &[Magic::Text],
    },
];

/// Bytes needed at the start of a file to recognise it.
pub const SNIFF_LEN: usize = 16;

/// Every MIME type the node recognises.
pub fn known_types() -> Vec<&'static str> {
    KNOWN.iter().map(|k| k.mime).collect()
}

fn known(mime: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|k| k.mime == mime)
}

/// A type as written in settings or a request: a MIME type (parameters dropped, lower case)
/// or an extension (`.pdf`, `pdf`), as the recognised MIME type; `None` when not recognised.
pub fn normalise(given: &str) -> Option<&'static str> {
    let given = given
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if let Some(k) = known(&given) {
        return Some(k.mime);
    }
    let ext = given.strip_prefix('.').unwrap_or(&given);
    KNOWN
        .iter()
        .find(|k| k.extensions.contains(&ext))
        .map(|k| k.mime)
}

/// The type a file name's extension names, if recognised.
pub fn from_name(name: &str) -> Option<&'static str> {
    let (_, ext) = name.rsplit_once('.')?;
    normalise(ext)
}

/// The binary type `head` (the file's first bytes) starts like, if any.
pub fn sniff_binary(head: &[u8]) -> Option<&'static str> {
    KNOWN.iter().find_map(|k| {
        k.magic
            .iter()
            .any(|m| match m {
                Magic::Prefix(p) => head.starts_with(p),
                Magic::Riff(form) => {
                    head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == *form
                }
                Magic::Text => false,
            })
            .then_some(k.mime)
    })
}

/// Whether `mime` is a text type (checked as UTF-8 without NUL while it streams).
pub fn is_text(mime: &str) -> bool {
    known(mime).is_some_and(|k| k.magic.contains(&Magic::Text))
}

/// Whether a file declared as `mime` may start with `head`: a binary type's magic must be
/// there; a text type must not start like any binary type.
pub fn head_fits(mime: &str, head: &[u8]) -> bool {
    match known(mime) {
        None => false,
        Some(k) if k.magic.contains(&Magic::Text) => sniff_binary(head).is_none(),
        Some(_) => sniff_binary(head) == Some(mime),
    }
}

/// Checks text as it streams: UTF-8 across piece boundaries, no NUL byte.
#[derive(Debug, Default)]
pub struct TextCheck {
    /// The bytes of a character cut at the end of the last piece.
    carry: Vec<u8>,
}

impl TextCheck {
    /// Feeds the next piece; `false` once the text is not UTF-8 or has a NUL byte.
    pub fn feed(&mut self, piece: &[u8]) -> bool {
        if piece.contains(&0) {
            return false;
        }
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(piece);
        match std::str::from_utf8(&buf) {
            Ok(_) => true,
            Err(e) if e.error_len().is_none() => {
                self.carry = buf[e.valid_up_to()..].to_vec();
                true
            }
            Err(_) => false,
        }
    }

    /// Whether the text ended on a whole character.
    pub fn finish(&self) -> bool {
        self.carry.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_recognised_by_their_content_not_their_name() {
        assert_eq!(normalise("Image/PNG; q=1"), Some("image/png"));
        assert_eq!(normalise(".JPG"), Some("image/jpeg"));
        assert_eq!(normalise("text/html"), None);
        assert_eq!(from_name("report.final.pdf"), Some("application/pdf"));
        assert!(head_fits("image/png", b"\x89PNG\r\n\x1a\n...."));
        assert!(!head_fits("image/png", b"%PDF-1.7"));
        assert!(head_fits("image/webp", b"RIFF\0\0\0\0WEBPVP8 "));
        assert!(head_fits("text/plain", b"hello"));
        assert!(!head_fits("text/plain", b"%PDF-1.4 looks like text"));
    }

    #[test]
    fn text_is_checked_across_pieces() {
        let bytes = "é😀".as_bytes();
        let mut check = TextCheck::default();
        assert!(check.feed(&bytes[..1]));
        assert!(check.feed(&bytes[1..4]));
        assert!(!check.finish());
        assert!(check.feed(&bytes[4..]));
        assert!(check.finish());
        assert!(!TextCheck::default().feed(b"a\0b"));
        assert!(!TextCheck::default().feed(b"\xff\xfe"));
    }
}
