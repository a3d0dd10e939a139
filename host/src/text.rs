//! Bounding text that came from a guest before the host keeps, logs or echoes it: truncation
//! at a character boundary with a note of how much was cut, so a 50 MB error message costs a
//! status, a log line and a REST answer at most the limit.

/// Truncates `text` to at most `max` bytes (plus the note) at a character boundary, saying
/// how many bytes were cut.
pub fn truncate(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let dropped = text.len() - end;
    text.truncate(end);
    // Give the memory back: a truncated 50 MB message must not keep its buffer.
    text.shrink_to_fit();
    text.push_str(&format!("… [{dropped} bytes truncated]"));
}

/// [`truncate`] by value.
pub fn truncated(mut text: String, max: usize) -> String {
    truncate(&mut text, max);
    text
}

/// `text` cut to at most `max` bytes at a character boundary, with the note, as a new string
/// (for text the caller keeps borrowing).
pub fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} bytes truncated]", &text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_at_a_character_boundary_with_a_note() {
        let mut text = "héllo".repeat(3);
        truncate(&mut text, 2);
        // `é` is two bytes: the cut falls before it.
        assert_eq!(text, "h… [17 bytes truncated]");
        assert_eq!(bounded("héllo", 3), "hé… [3 bytes truncated]");
        assert_eq!(truncated("short".into(), 5), "short");
    }
}
