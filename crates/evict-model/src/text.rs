//! The one way Evict turns a byte offset in a file it read into a place a person can find.

/// A line and column, both from 1; the column counts characters, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextPosition {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl TextPosition {
    /// The position of byte `offset` in `text` (an offset inside a character, or past the
    /// end, counts as the character it falls in, or the end).
    pub fn at(text: &str, offset: usize) -> TextPosition {
        let mut end = offset.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let before = text.get(..end).unwrap_or_default();
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        TextPosition {
            line: before.matches('\n').count() + 1,
            column: before.get(line_start..).unwrap_or_default().chars().count() + 1,
        }
    }
}

impl std::fmt::Display for TextPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_character_columns() {
        let text = "a = 1\nné = \"x\"\n";
        assert_eq!(
            TextPosition::at(text, 0),
            TextPosition { line: 1, column: 1 }
        );
        assert_eq!(
            TextPosition::at(text, 6),
            TextPosition { line: 2, column: 1 }
        );
        // "né" is three bytes; the space after it is the third character.
        assert_eq!(
            TextPosition::at(text, 9),
            TextPosition { line: 2, column: 3 }
        );
        assert_eq!(
            TextPosition::at(text, 8),
            TextPosition { line: 2, column: 2 }
        );
        assert_eq!(TextPosition::at(text, 999).line, 3);
        assert_eq!(TextPosition::at(text, 6).to_string(), "2:1");
    }
}
