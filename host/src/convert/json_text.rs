//! The JSON tree the JSON converter works on, with a parser and a writer that reproduce the
//! bytes Jackson (Kafka Connect's JSON library) writes: compact, keys in insertion order,
//! numbers kept as their exact text, control characters escaped as `\uXXXX` in upper case.
//! Pure; no I/O.

use std::fmt::Write as _;

/// Jackson's default maximum nesting depth (`StreamReadConstraints`); also keeps recursion
/// bounded on hostile input.
const MAX_DEPTH: usize = 1000;

/// A JSON node. Numbers keep their text so that integers of any size and decimals keep full
/// precision, as Jackson's `BigDecimal`-backed nodes do in Kafka's converter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// The number's text, valid JSON number syntax.
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Members in insertion order; keys are unique (a repeated key replaces the value in
    /// place, as Jackson's `ObjectNode.set`).
    Object(Vec<(String, Json)>),
}

impl Json {
    pub(crate) fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Self::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Jackson's `JsonNodeType` name, for error messages.
    pub(crate) fn node_type(&self) -> &'static str {
        match self {
            Self::Null => "NULL",
            Self::Bool(_) => "BOOLEAN",
            Self::Number(_) => "NUMBER",
            Self::String(_) => "STRING",
            Self::Array(_) => "ARRAY",
            Self::Object(_) => "OBJECT",
        }
    }

    /// A number without fraction or exponent (Jackson's `isIntegralNumber`).
    pub(crate) fn is_integral_number(&self) -> bool {
        matches!(self, Self::Number(text) if !text.contains(['.', 'e', 'E']))
    }

    /// The compact JSON text.
    pub(crate) fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Self::Number(text) => out.push_str(text),
            Self::String(s) => write_string(s, out),
            Self::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Self::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// Adds or replaces a member, keeping the first position (Jackson `ObjectNode.set`).
pub(crate) fn object_set(members: &mut Vec<(String, Json)>, key: String, value: Json) {
    match members.iter_mut().find(|(k, _)| *k == key) {
        Some(member) => member.1 = value,
        None => members.push((key, value)),
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses one JSON document. Empty (or all-whitespace) input gives `Ok(None)`, like Jackson's
/// missing node. Unlike Jackson's `readTree` default, trailing content is an error.
pub(crate) fn parse(bytes: &[u8]) -> Result<Option<Json>, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("invalid UTF-8 in JSON at byte {}", e.valid_up_to()))?;
    let mut parser = Parser { text, pos: 0 };
    parser.skip_whitespace();
    if parser.pos == text.len() {
        return Ok(None);
    }
    let value = parser.value(0)?;
    parser.skip_whitespace();
    if parser.pos != text.len() {
        return Err(parser.error("unexpected trailing content"));
    }
    Ok(Some(value))
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        format!("malformed JSON: {what} at byte {}", self.pos)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect_literal(&mut self, literal: &str, value: Json) -> Result<Json, String> {
        if self.text[self.pos..].starts_with(literal) {
            self.pos += literal.len();
            Ok(value)
        } else {
            Err(self.error("unrecognized token"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'n') => self.expect_literal("null", Json::Null),
            Some(b't') => self.expect_literal("true", Json::Bool(true)),
            Some(b'f') => self.expect_literal("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'[') => self.array(depth),
            Some(b'{') => self.object(depth),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, String> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, String> {
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a field name"));
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':'"));
            }
            self.pos += 1;
            self.skip_whitespace();
            let value = self.value(depth + 1)?;
            object_set(&mut members, key, value);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let digits = |pos: &mut usize| {
            let from = *pos;
            while bytes.get(*pos).is_some_and(u8::is_ascii_digit) {
                *pos += 1;
            }
            *pos - from
        };
        let mut pos = self.pos;
        if bytes.get(pos) == Some(&b'-') {
            pos += 1;
        }
        let int_start = pos;
        let int_len = digits(&mut pos);
        if int_len == 0 {
            self.pos = pos;
            return Err(self.error("expected a digit"));
        }
        if int_len > 1 && bytes[int_start] == b'0' {
            self.pos = int_start;
            return Err(self.error("leading zeroes are not allowed"));
        }
        if bytes.get(pos) == Some(&b'.') {
            pos += 1;
            if digits(&mut pos) == 0 {
                self.pos = pos;
                return Err(self.error("expected a digit after the decimal point"));
            }
        }
        if matches!(bytes.get(pos), Some(b'e' | b'E')) {
            pos += 1;
            if matches!(bytes.get(pos), Some(b'+' | b'-')) {
                pos += 1;
            }
            if digits(&mut pos) == 0 {
                self.pos = pos;
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        self.pos = pos;
        Ok(Json::Number(self.text[start..pos].to_string()))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let hex = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        self.pos += 4;
        u32::from_str_radix(hex, 16).map_err(|_| self.error("invalid \\u escape"))
    }

    fn string(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let plain = rest
                .find(|c: char| c == '"' || c == '\\' || (c as u32) < 0x20)
                .ok_or_else(|| self.error("unterminated string"))?;
            out.push_str(&rest[..plain]);
            self.pos += plain;
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escape = self
                        .peek()
                        .ok_or_else(|| self.error("unterminated string"))?;
                    self.pos += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{08}'),
                        b'f' => out.push('\u{0c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let first = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&first)
                                && self.text[self.pos..].starts_with("\\u")
                            {
                                self.pos += 2;
                                let second = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&second) {
                                    return Err(self.error("invalid surrogate pair"));
                                }
                                0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
                            } else {
                                first
                            };
                            let c = char::from_u32(code)
                                .ok_or_else(|| self.error("unpaired surrogate in \\u escape"))?;
                            out.push(c);
                        }
                        _ => return Err(self.error("unrecognized escape")),
                    }
                }
                _ => return Err(self.error("unescaped control character in string")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        parse(text.as_bytes()).unwrap().unwrap().to_text()
    }

    #[test]
    fn writes_compact_json_like_jackson() {
        assert_eq!(
            round_trip(r#" { "a" : [1, 2.50, -3e10, true, null], "b" : {} } "#),
            r#"{"a":[1,2.50,-3e10,true,null],"b":{}}"#
        );
        let control = Json::String("q\"b\\s/\n\t\u{1}é€".into()).to_text();
        assert_eq!(control, "\"q\\\"b\\\\s/\\n\\t\\u0001é€\"");
    }

    #[test]
    fn repeated_keys_keep_first_position_and_last_value() {
        assert_eq!(round_trip(r#"{"a":1,"b":2,"a":3}"#), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn parses_escapes() {
        assert_eq!(
            parse(br#""\u00e9\ud83d\ude00\/""#).unwrap(),
            Some(Json::String("é😀/".into()))
        );
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            "{",
            "[1,]",
            "01",
            "1.",
            "-",
            "{\"a\" 1}",
            "nul",
            "\"\u{1}\"",
            "1 2",
            "NaN",
            "'a'",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(parse(b"  ").unwrap(), None);
        assert!(parse(&[b'"', 0xff, b'"']).is_err());
        let deep = "[".repeat(2000);
        assert!(parse(deep.as_bytes()).is_err());
    }
}
