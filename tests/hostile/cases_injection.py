"""Text from inputs that would change the meaning of an output: Markdown, HTML in Markdown, shell, CSV."""
from pathlib import Path

from common import *
from run import Case

EVIL_ID = "<script>alert(1)</script>"


def evil_system(field: str, value: str):
    body = f'id = "box"\ngpu = "H200"\nprimary_use = "x"\n'
    body = body.replace(f'{field} = "box"' if field == "id" else f'{field} = "x"', f'{field} = {value}')
    return one_system(body, "s.toml")


def md_clean(d: Path, out: str, err: str) -> list[str]:
    p = []
    md = (d / "S.md").read_text() if (d / "S.md").exists() else ""
    if not md:
        return ["S.md was not written"]
    if "<script>" in md:
        p.append("raw <script> in S.md")
    for line in md.splitlines():
        if line.startswith("## injected"):
            p.append("a newline in an input injected a heading: " + line)
    for line in md.splitlines():
        # a reproduce command line mentioning the id must carry it quoted
        if "vramfit" in line and "alert(1)" in line and "'" not in line:
            p.append("id unquoted in a shell command: " + line)
    csv = (d / "S.csv").read_text() if (d / "S.csv").exists() else ""
    for row in csv.splitlines():
        for cell in row.split(","):
            c = cell.strip('"')
            if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not c[1:2].isdigit() and c != "-"):
                p.append("CSV cell not neutralised: " + cell)
    return p


def evil_gguf_name() -> bytes:
    """The tiny q8_0 golden with general.name replaced by markup of the same length (15 bytes)."""
    b = bytearray(GGUF.read_bytes())
    key = b"general.name"
    i = b.find(key) + len(key) + 4 + 8  # type u32, length u64, then the string
    old = b[i:i + 15]
    assert old == b"llama-tiny-q8_0", old
    b[i:i + 15] = b"<script>x|\n## "[:15].ljust(15, b" ")
    return bytes(b)


OUT = ["-o", "S.md", "--csv", "S.csv"]

CASES = [
    Case("md-script-id", ["report", "--systems", "s.toml"] + OUT, rc=0, new_files_ok=True, check=md_clean,
         setup=one_system(f'id = "{EVIL_ID}"\ngpu = "H200"\nprimary_use = "x"\n', "s.toml")),
    Case("md-newline-primary-use", ["report", "--systems", "s.toml"] + OUT, rc=0, new_files_ok=True, check=md_clean,
         setup=one_system('id = "box"\ngpu = "H200"\nprimary_use = "x\\n## injected heading"\n', "s.toml")),
    Case("md-newline-id", ["report", "--systems", "s.toml"] + OUT, rc=0, new_files_ok=True, check=md_clean,
         setup=one_system('id = "a\\n## injected"\ngpu = "H200"\nprimary_use = "x"\n', "s.toml")),
    Case("md-pipe-id", ["report", "--systems", "s.toml"] + OUT, rc=0, new_files_ok=True,
         check=lambda d, o, e: [] if "a\\|b" in (d / "S.md").read_text() or "a&#124;b" in (d / "S.md").read_text() else ["'|' in an id not escaped in S.md"],
         setup=one_system('id = "a|b"\ngpu = "H200"\nprimary_use = "x"\n', "s.toml")),
    Case("csv-formula-use", ["report", "--systems", "s.toml"] + OUT, rc=0, new_files_ok=True, check=md_clean,
         setup=one_system('id = "=cmd|calc"\ngpu = "H200"\nprimary_use = "=HYPERLINK(1)"\n', "s.toml")),
    Case("gguf-name-raw", ["llm", "--gguf", "t.gguf", "--no-run"], rc=0,
         check=lambda d, o, e: ["raw <script> from general.name in the output"] if "<script>" in o else [],
         setup=lambda d: (d / "t.gguf").write_bytes(evil_gguf_name())),
]


def reproduce_commands(md: str) -> list[str]:
    """The shell commands of S.md's "How to reproduce" blocks, as a shell would receive them."""
    import html
    import re
    cmds = []
    for block in re.findall(r"```sh\n(.*?)```", md, re.S):
        cmds += block.splitlines()
    for block in re.findall(r"<pre><code>(.*?)</code></pre>", md, re.S):
        cmds += [html.unescape(line) for line in block.split("\n")]  # a newline inside a command is &#10;
    return [c for c in cmds if c.strip()]


def id_survives_shell(evil: str):
    """Every reproduce command that names the system gives the shell exactly that id, one word."""
    import shlex

    def check(d: Path, out: str, err: str) -> list[str]:
        p = md_clean(d, out, err)
        if p:
            return p
        cmds = reproduce_commands((d / "S.md").read_text())
        named = [c for c in cmds if "--system-id" in c or "--system " in c]
        if not named:
            return ["no reproduce command names the system"]
        for c in named:
            words = shlex.split(c, comments=True)
            flag = "--system-id" if "--system-id" in words else "--system"
            if flag not in words or words[words.index(flag) + 1] != evil:
                p.append(f"the shell reads {words!r}, not the id {evil!r}")
        return p
    return check


def no_raw(name: str, needle: str):
    def check(d: Path, out: str, err: str) -> list[str]:
        text = (d / name).read_text() if (d / name).exists() else ""
        if not text:
            return [f"{name} was not written"]
        return [f"raw {needle!r} in {name}"] if needle in text else []
    return check


def csv_roundtrip(text: str, column: int, want: str) -> list[str]:
    """The CSV parses to rows as wide as its header, and the first row's cell is the input text exactly."""
    import csv
    import io
    rows = list(csv.reader(io.StringIO(text)))
    p = [f"row {i} has {len(r)} cells, the header {len(rows[0])}" for i, r in enumerate(rows) if len(r) != len(rows[0])]
    if len(rows) < 2 or rows[1][column] != want:
        p.append(f"cell {column} of the first row is {rows[1][column] if len(rows) > 1 else None!r}, not {want!r}")
    return p


SHELL_ID = "x'$(touch pwned)`id`;rm -rf ~"

CASES += [
    Case("sh-id-command-substitution", ["report", "--systems", "s.toml"] + OUT, rc=0, new_files_ok=True, check=id_survives_shell(SHELL_ID),
         setup=one_system('id = "x\'$(touch pwned)`id`;rm -rf ~"\ngpu = "H200"\nprimary_use = "`id` $(touch pwned)"\n', "s.toml")),
    Case("sh-script-id-quoted", ["report", "--systems", "s.toml"] + OUT, rc=0, new_files_ok=True, check=id_survives_shell(EVIL_ID),
         setup=one_system(f'id = "{EVIL_ID}"\ngpu = "H200"\nprimary_use = "x"\n', "s.toml")),
    Case("sh-newline-id-one-word", ["report", "--systems", "s.toml"] + OUT, rc=0, new_files_ok=True, check=id_survives_shell("a\n## injected"),
         setup=one_system('id = "a\\n## injected"\ngpu = "H200"\nprimary_use = "x"\n', "s.toml")),
    Case("md-backtick-primary-use", ["report", "--systems", "s.toml"] + OUT, rc=0, new_files_ok=True,
         check=lambda d, o, e: md_clean(d, o, e) + no_raw("S.md", "<img")(d, o, e),
         setup=one_system('id = "box"\ngpu = "H200"\nprimary_use = "``` <img src=x onerror=alert(1)> $(id)"\n', "s.toml")),
    Case("csv-at-sum-id", ["report", "--systems", "s.toml"] + OUT, rc=0, new_files_ok=True, check=md_clean,
         setup=one_system('id = "@SUM(1+1)*cmd|\' /C calc\'!A0"\ngpu = "H200"\nprimary_use = "x"\n', "s.toml")),
    Case("csv-plus-minus-tab-id", ["report", "--systems", "s.toml"] + OUT, rc=0, new_files_ok=True,
         check=lambda d, o, e: md_clean(d, o, e) + ([] if "'\t+cmd" in (d / "S.csv").read_text() else ["tab-led CSV cell not neutralised"]),
         setup=one_system('id = "\\t+cmd"\ngpu = "H200"\nprimary_use = "x"\n', "s.toml")),
    Case("md-newline-gpu-name", ["report", "--systems", "s.toml"] + OUT, rc=0, new_files_ok=True, check=md_clean,
         setup=one_system(inline_spec(name='"Card\\n## injected <script>"'), "s.toml")),
    Case("html-script-id", ["report", "--systems", "s.toml", "-o", "S.md", "--html", "S.html"], rc=0, new_files_ok=True,
         check=no_raw("S.html", "<script>"),
         setup=one_system(f'id = "{EVIL_ID}"\ngpu = "H200"\nprimary_use = "{EVIL_ID}"\n', "s.toml")),
    Case("gguf-name-csv", ["llm", "--gguf", "t.gguf", "--no-run", "-o", "csv"], rc=0,
         check=lambda d, o, e: csv_roundtrip(o, 0, b"<script>x|\n## "[:15].ljust(15, b" ").decode()),
         setup=lambda d: (d / "t.gguf").write_bytes(evil_gguf_name())),
]
