// core/text_escape.h — the one place that makes text from input files (system ids, primary_use, a
// GGUF's general.name, notes) safe in each output language: Markdown, HTML, POSIX shell and CSV.
// Every printer goes through these, so a hostile id cannot inject a heading, a tag, a shell command
// or a spreadsheet formula, and the escaping rules are tested once (tests/core/text_escape_test.cpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vramfit {

// HTML text and double-quoted attribute values: & < > " become entities.
std::string html_escape(std::string_view s);

// Markdown text, in a table cell or in running text: the HTML specials become entities (Markdown
// passes raw HTML through), '|' becomes &#124; (a table's cell separator; an entity, not "\|", so an
// input ending in a backslash cannot undo it), and line breaks and other control characters become
// spaces (a newline would start a heading, a list or a new table row). Not idempotent ('&' becomes
// &amp;): apply it once, where the text enters Markdown.
std::string md_text(std::string_view s);

// Inline code in Markdown: `s` where that shows s exactly, else <code>md_text(s)</code> (a backtick,
// an HTML special, '|' or a control character would break or escape a code span).
std::string md_code(std::string_view s);

// One POSIX shell word that the shell reads back as exactly s: unchanged when s has only characters
// no shell treats specially (letters, digits, _ @ % + = : , . / -), else in single quotes with each
// ' written as '\''. A newline stays a newline inside the quotes (still one word).
std::string shell_quote(std::string_view s);
// Always '…' (every ' written as '\''), plain words too: for generated scripts, where one form per
// argument keeps them readable and tested text stable (fleet/'s ssh and Slurm scripts).
std::string shell_quote_always(std::string_view s);

// Text after a shell '#': control characters (a newline would end the comment) become spaces.
std::string shell_comment(std::string_view s);

// One CSV field (RFC 4180 quoting where needed). A field that a spreadsheet would run as a formula —
// it starts with = + - @, a tab or a carriage return — gets a leading ' (OWASP's advice on CSV
// injection), except a plain number such as -1.5 or +3e-2, which stays a number.
std::string csv_field(std::string_view s);

// One CSV record: each field through csv_field, separated by commas, ended by a newline.
std::string csv_row(const std::vector<std::string>& fields);

}  // namespace vramfit
