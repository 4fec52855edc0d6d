//! Text that a custodian or a file controls, made safe for a terminal, a log or a
//! page: [`shown`] is the one escape every message, report and error goes through.
//!
//! A username, a currency label, a JSON value echoed in a parse error, an RPC
//! server's message: any of them may hold bytes that a terminal obeys. A carriage
//! return or `ESC [ 1 A` moves the cursor back over a refusal, `ESC [ 8 m` hides what
//! follows, a right-to-left override (U+202E) reorders a number, a zero-width space
//! makes two names look alike. [`shown`] writes each such character as its Rust
//! escape (`\u{1b}`, `\r`, `\u{202e}`), so the text reads as what it is.
//!
//! What is escaped is what Rust's `char::escape_debug` escapes other than the
//! quotes and the backslash: the control characters (Unicode `Cc`, which holds every
//! byte of an ANSI or CSI sequence's introducer), format characters (`Cf`: the
//! bidirectional overrides and isolates, zero-width characters, the byte-order
//! mark), line and paragraph separators, unassigned and private-use code points,
//! and combining marks, and the few letters that print as blank space (Hangul
//! fillers, the blank Braille pattern). Printable text, quotes and backslashes pass unchanged, so
//! escaping is idempotent: a message built from already-escaped parts can be
//! escaped again at the terminal without doubling anything.

use std::borrow::Cow;

/// Printable characters that show as blank space although they are letters or
/// symbols (Hangul fillers, the blank Braille pattern, Khmer inherent vowels): a
/// name made of them looks empty, or like another with spaces.
const BLANK_LOOKING: &[char] = &[
    '\u{115F}', '\u{1160}', '\u{17B4}', '\u{17B5}', '\u{2800}', '\u{3164}', '\u{FFA0}',
];

/// Whether `c` is written as an escape by [`shown`].
pub fn needs_escape(c: char) -> bool {
    BLANK_LOOKING.contains(&c)
        || (!matches!(c, '"' | '\'' | '\\') && c.escape_debug().nth(1).is_some())
}

/// `text` with every character that a terminal or a page could obey, or that is
/// invisible, written as its escape ([`needs_escape`]); borrowed when there is none.
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if BLANK_LOOKING.contains(&c) {
            out.extend(c.escape_unicode());
        } else if needs_escape(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`shown`], quoted: how a name from a file appears in a message.
pub fn quoted(text: &str) -> String {
    format!("\"{}\"", shown(text))
}

/// JSON text (as serde_json writes it, compact or pretty) with every character of a
/// string that [`needs_escape`] written as JSON's `\uXXXX` escape: still the same
/// JSON value, and safe for a terminal. (serde_json already escapes the control
/// characters below U+0020 inside strings; outside strings JSON holds only ASCII
/// punctuation, digits, letters and whitespace, so the newlines of pretty output
/// are the only characters that [`needs_escape`] and stay.)
pub fn json_shown(json: &str) -> Cow<'_, str> {
    let escape = |c: char| c != '\n' && needs_escape(c);
    if !json.chars().any(escape) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if escape(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_sequences_bidi_and_invisible_characters_are_escaped() {
        assert_eq!(shown("\u{3164}\u{2800}"), r"\u{3164}\u{2800}");
        let hostile =
            "a\r\x1b[1A\x1b[J\x1b[8m\u{9b}\u{202e}12\u{2066}\u{200b}\u{feff}\u{2028}\u{7f}\0\n\tz";
        let s = shown(hostile);
        assert!(s.chars().all(|c| !needs_escape(c)), "{s}");
        assert!(s.chars().all(|c| (' '..='~').contains(&c)), "{s}");
        assert_eq!(
            s,
            r"a\r\u{1b}[1A\u{1b}[J\u{1b}[8m\u{9b}\u{202e}12\u{2066}\u{200b}\u{feff}\u{2028}\u{7f}\0\n\tz"
        );
    }

    #[test]
    fn printable_text_quotes_and_backslashes_pass_and_escaping_is_idempotent() {
        for t in [
            "MBlfbBGI",
            "Zoë, 李, Ω",
            r#"a "quoted" \path\ 'x'"#,
            "",
            "0x1a2c",
        ] {
            assert!(matches!(shown(t), Cow::Borrowed(_)), "{t}");
        }
        let once = shown("x\x1b[8m\u{202e}y").into_owned();
        assert_eq!(shown(&once), once);
        assert_eq!(quoted("a\nb"), r#""a\nb""#);
    }

    #[test]
    fn json_keeps_its_value_and_loses_what_a_terminal_obeys() {
        let v = serde_json::json!({"user": "x\u{1b}[8m\u{202e}\u{7f}\u{1d11e}\u{e0001}", "n": [1, "ok"]});
        for text in [v.to_string(), serde_json::to_string_pretty(&v).unwrap()] {
            let safe = json_shown(&text);
            assert!(
                safe.chars().all(|c| c == '\n' || !needs_escape(c)),
                "{safe}"
            );
            assert_eq!(serde_json::from_str::<serde_json::Value>(&safe).unwrap(), v);
        }
    }
}
