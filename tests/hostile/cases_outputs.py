"""Output paths that collide with inputs, with each other, or point at devices and folders."""
from pathlib import Path

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


def _exists(name: str, text: str = ""):
    def check(d: Path, out: str, err: str) -> list[str]:
        p = d / name
        if not p.is_file():
            return [f"{name} was not written"]
        return [] if text in p.read_text() else [f"{name} does not contain {text!r}"]
    return check


def _only(*names: str):
    """A successful case leaves exactly these new entries (no temporaries beside them)."""
    def check(d: Path, out: str, err: str) -> list[str]:
        found = sorted(str(p.relative_to(d)) for p in d.rglob("*"))
        return [] if found == sorted(names) else [f"files after the run: {found}, expected {sorted(names)}"]
    return check


CASES += [
    # Targets that are not regular files, reached directly or through a link.
    Case("report-o-symlink-devnull", ["report", "--systems", S, "-o", "S.md"], r"S\.md.*(device|link)",
         setup=symlink("/dev/null", "S.md"), watch=["/dev/null"]),
    Case("report-json-dev-null", ["report", "--systems", S, "-o", "S.md", "--json", "/dev/null"], r"/dev/null",
         watch=["/dev/null"]),
    Case("report-o-dangling-symlink", ["report", "--systems", S, "-o", "S.md"], r"S\.md", setup=symlink("nowhere/x.md", "S.md")),
    Case("report-o-under-file", ["report", "--systems", S, "-o", "file.txt/out.md"], r"file\.txt/out\.md",
         setup=write("file.txt", "a file, not a folder\n")),
    Case("report-csv-under-file-keeps-md", ["report", "--systems", S, "-o", "S.md", "--csv", "file.txt/S.csv"], r"file\.txt",
         setup=chain(write("file.txt", "x\n"), write("S.md", "old summary\n"))),
    Case("report-o-trailing-slash", ["report", "--systems", S, "-o", "newdir/"], r"newdir/"),
    Case("report-o-empty", ["report", "--systems", S, "-o", ""], r"-o"),
    # An output that is an input, however it is spelled.
    Case("report-o-dot-systems", ["report", "--systems", "s.toml", "-o", "./sub/../s.toml"], r"s\.toml",
         setup=chain(copy(SYSTEMS, "s.toml"), mkdir("sub"))),
    Case("report-o-symlink-to-systems", ["report", "--systems", "s.toml", "-o", "S.md"], r"S\.md.*s\.toml",
         setup=chain(copy(SYSTEMS, "s.toml"), symlink("s.toml", "S.md"))),
    Case("report-o-is-id-profile", ["report", "--systems", "s.toml", "desk-3070ti=p.json", "-o", "p.json"], r"p\.json",
         setup=chain(copy(SYSTEMS, "s.toml"), copy(PROFILE_V2, "p.json"))),
    Case("report-csv-is-gpus", ["report", "--systems", "s.toml", "--gpus", "g.toml", "-o", "S.md", "--csv", "g.toml"], r"g\.toml",
         setup=chain(copy(SYSTEMS, "s.toml"), copy(SOURCE / "data/gpus.toml", "g.toml"))),
    # Two outputs, one file.
    Case("report-csv-equals-json", ["report", "--systems", S, "-o", "S.md", "--json", "S.json", "--csv", "./S.json"], r"S\.json"),
    Case("report-two-stdout", ["report", "--systems", S, "-o", "-", "--json", "-"], r"standard output"),
    # What must still work.
    Case("report-o-missing-folders", ["report", "--systems", S, "-o", "out/new/S.md", "--json", "out/S.json"], rc=0, new_files_ok=True,
         check=lambda d, o, e: _exists("out/new/S.md", "desk-3070ti")(d, o, e) + _only("out", "out/new", "out/new/S.md", "out/S.json")(d, o, e)),
    Case("report-json-stdout", ["report", "--systems", S, "-o", "S.md", "--json", "-"], rc=0, new_files_ok=True,
         stdout_re=r'"schema_version"', check=_only("S.md")),
]

# A profile systems.toml names (not the command line) is an input as well.
CASES.append(Case("report-o-is-systems-profile", ["report", "--systems", "s.toml", "-o", "p.json"], r"p\.json",
                  setup=chain(copy(PROFILE_V2, "p.json"),
                              one_system('id = "box"\ngpu = "H200"\nprimary_use = "x"\nprofile = "p.json"\n', "s.toml"))))
