"""Output paths that collide with inputs, with each other, or point at devices and folders."""
from common import *
from run import Case

S = "{src}/data/systems.example.toml"

CASES = [
    Case("report-o-dev-full", ["report", "--systems", S, "-o", "/dev/full"], r"/dev/full", watch=["/dev/full"]),
    Case("report-o-is-systems", ["report", "--systems", "s.toml", "-o", "s.toml"], r"s\.toml", setup=copy(SYSTEMS, "s.toml")),
    Case("report-json-is-profile", ["report", "--systems", "s.toml", "p.json", "-o", "S.md", "--json", "p.json"], r"p\.json",
         setup=chain(copy(SYSTEMS, "s.toml"), copy(PROFILE_V2, "p.json"))),
    Case("report-o-equals-html", ["report", "--systems", S, "-o", "d.md", "--html", "d.md"], r"d\.md"),
    Case("report-html-is-dir", ["report", "--systems", S, "-o", "S.md", "--html", "dir"], r"dir",
         setup=chain(mkdir("dir"), write("S.md", "old summary\n"))),
    Case("report-o-fifo", ["report", "--systems", S, "-o", "f.md"], r"f\.md", setup=fifo("f.md"), timeout=10),
    Case("report-o-stdout", ["report", "--systems", S, "-o", "-"], rc=0, stdout_re=r"desk-3070ti", msg=""),
]
