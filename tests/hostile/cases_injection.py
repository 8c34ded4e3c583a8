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
