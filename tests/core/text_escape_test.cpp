// The escapers of core/text_escape.h: what each output language must never receive raw.
#include <gtest/gtest.h>

#include "core/text_escape.h"

namespace vramfit {
namespace {

TEST(MdText, EscapesTablePipesHtmlAndLineBreaks) {
  EXPECT_EQ(md_text("desk-3070ti"), "desk-3070ti");
  EXPECT_EQ(md_text("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_EQ(md_text("a|b"), "a&#124;b");
  EXPECT_EQ(md_text("a\\|b"), "a\\&#124;b");  // a backslash in the input cannot re-open the pipe
  EXPECT_EQ(md_text("x\n## injected"), "x ## injected");
  EXPECT_EQ(md_text("x\r\ny\rz\tw\x1b[31m"), "x y z w [31m");
  EXPECT_EQ(md_text("a & b"), "a &amp; b");
  EXPECT_EQ(md_text("**bold** ✓ ≥ 4,096"), "**bold** ✓ ≥ 4,096");  // Markdown and UTF-8 pass
}

TEST(MdCode, BackticksWhenExactElseHtmlCode) {
  EXPECT_EQ(md_code("data/systems.toml"), "`data/systems.toml`");
  EXPECT_EQ(md_code("a`b"), "<code>a`b</code>");
  EXPECT_EQ(md_code("<b>|x\n"), "<code>&lt;b&gt;&#124;x </code>");
  EXPECT_EQ(md_code(""), "<code></code>");
}

TEST(HtmlEscape, Specials) { EXPECT_EQ(html_escape("<a href=\"x\">&</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"); }

TEST(ShellQuote, PlainWordsStayAndTheRestIsSingleQuoted) {
  EXPECT_EQ(shell_quote("desk-3070ti"), "desk-3070ti");
  EXPECT_EQ(shell_quote("profiles/a_b.json"), "profiles/a_b.json");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("$(rm -rf ~)"), "'$(rm -rf ~)'");
  EXPECT_EQ(shell_quote("`id`"), "'`id`'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote("a\nb"), "'a\nb'");
  EXPECT_EQ(shell_quote("*"), "'*'");
  EXPECT_EQ(shell_quote("~x"), "'~x'");
}

TEST(ShellComment, ALineBreakCannotEndTheComment) { EXPECT_EQ(shell_comment("a\nrm -rf /"), "a rm -rf /"); }

TEST(CsvField, QuotesAndNeutralisesFormulas) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("=1+2"), "'=1+2");
  EXPECT_EQ(csv_field("+cmd"), "'+cmd");
  EXPECT_EQ(csv_field("-cmd|' /C calc'!A0"), "'-cmd|' /C calc'!A0");
  EXPECT_EQ(csv_field("@SUM(A1:A9)"), "'@SUM(A1:A9)");
  EXPECT_EQ(csv_field("\tx"), "'\tx");
  EXPECT_EQ(csv_field("\rx"), "\"'\rx\"");
  EXPECT_EQ(csv_field("=HYPERLINK(\"x\",\"y\")"), "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
  // Plain numbers stay numbers.
  EXPECT_EQ(csv_field("-1.5"), "-1.5");
  EXPECT_EQ(csv_field("+3e-2"), "+3e-2");
  EXPECT_EQ(csv_field("-.5"), "-.5");
  EXPECT_EQ(csv_field("-"), "'-");
  EXPECT_EQ(csv_field("-1e"), "'-1e");
  EXPECT_EQ(csv_field("-1-1"), "'-1-1");
  EXPECT_EQ(csv_field(""), "");
}

}  // namespace
}  // namespace vramfit
