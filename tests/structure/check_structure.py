"""Checks the structure ARCHITECTURE.md promises, which the compiler does not: the crates'
dependencies point one way (chat-core below everything; openai-client and spend beside each
other, neither knowing the other; shared above them; the functions on top), the lower crates
know nothing of what is above them (no Lambda in openai-client, no OpenAI client in spend), and
no module of any crate imports a module that imports it back. Tests' modules are left out."""

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
checks = []


def check(name, ok, detail=""):
    checks.append((name, bool(ok), detail))


def dependencies(crate_dir):
    manifest = tomllib.loads((ROOT / crate_dir / "Cargo.toml").read_text())
    return set(manifest.get("dependencies", {}))


OURS = {"chat-core", "openai-client", "identity", "spend", "shared"}
allowed = {
    "shared/core": set(),
    "shared/openai": {"chat-core"},
    "shared/identity": {"chat-core"},
    "shared/spend": {"chat-core", "identity"},
    "shared": {"chat-core", "openai-client", "spend"},
}
for crate, may in allowed.items():
    ours = dependencies(crate) & OURS
    check(f"{crate} depends on {sorted(may) or 'none of ours'} at most", ours <= may, sorted(ours - may))
forbidden = {
    "shared/core": {"lambda_http", "reqwest", "aws-sdk-dynamodb", "aws-sdk-secretsmanager"},
    "shared/openai": {"lambda_http", "aws-sdk-dynamodb"},
    "shared/identity": {"lambda_http", "aws-sdk-dynamodb", "aws-sdk-secretsmanager", "eventsource-stream"},
    "shared/spend": {"reqwest", "eventsource-stream", "aws-sdk-secretsmanager"},
}
for crate, never in forbidden.items():
    found = dependencies(crate) & never
    check(f"{crate} knows nothing of {sorted(never)}", not found, sorted(found))


def modules(crate_dir):
    """Each module's name and its text before `#[cfg(test)]`, tests' own modules left out."""
    src = ROOT / crate_dir / "src"
    found = {}
    for path in src.rglob("*.rs"):
        rel = path.relative_to(src).with_suffix("").as_posix().removesuffix("/mod")
        name = "" if rel in ("lib", "main") else rel.replace("/", "::")
        if name.endswith("_tests") or name.endswith("::tests"):
            continue
        found[name] = path.read_text().split("#[cfg(test)]")[0]
    return found


def cycles(crate_dir):
    mods = modules(crate_dir)
    edges = {}
    for name, text in mods.items():
        refs = set(re.findall(r"crate::([a-z_]+)", text))
        for group in re.findall(r"use crate::\{([^}]*)\}", text):
            refs |= {part.strip().split("::")[0] for part in group.split(",")}
        parent = name.rsplit("::", 1)[0] if "::" in name else ""
        if parent and re.search(r"\bsuper::", text):
            refs.add(parent)
        edges[name] = {r for r in refs if r in mods and r not in (name, "")}
    found = set()

    def walk(node, path):
        for nxt in edges.get(node, ()):
            if nxt in path:
                found.add(tuple(sorted(path[path.index(nxt):])))
            elif len(path) < 12:
                walk(nxt, path + [nxt])

    for name in edges:
        walk(name, [name])
    return sorted(found)


crates = ["shared/core", "shared/openai", "shared/identity", "shared/spend", "shared", "functions/chat-complete",
          "functions/chat-stream", "functions/index", "dev/openai-stub", "dev/keys", "tests", "bench"]
for crate in crates:
    circles = cycles(crate)
    check(f"{crate}: no module imports one that imports it back", not circles, circles)

# The map is the tree: ARCHITECTURE.md names every workspace crate, and each library's line in
# "Modules, crate by crate" (and chat-stream's in the crates table) names every module it has.
architecture = (ROOT / "ARCHITECTURE.md").read_text()
workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["members"]
for member in workspace:
    name = tomllib.loads((ROOT / member / "Cargo.toml").read_text())["package"]["name"]
    check(f"ARCHITECTURE.md names the crate {name} ({member})", f"`{name}`" in architecture or f"`{member}" in architecture or f"{member}" in architecture)
map_lines = {"chat-core": "shared/core", "openai-client": "shared/openai", "identity": "shared/identity", "spend": "shared/spend", "shared": "shared"}
modules_section = architecture.split("### Modules, crate by crate", 1)[-1].split("\nTests, stand-ins and tools", 1)[0]
entries = {m.group(1): m.group(2) for m in re.finditer(r"^- `([a-z-]+)`:(.*?)(?=^- `|\Z)", modules_section, re.S | re.M)}
for crate, folder in map_lines.items():
    named = set(re.findall(r"`([a-z_]+)(?:::[a-z_]+)?`", entries.get(crate, "")))
    tree = {m.split("::")[0] for m in modules(folder) if m}
    check(f"ARCHITECTURE.md names every module of {crate}", tree <= named, sorted(tree - named))
    # What it names as a module is one (a word in backticks that is no module is a type or a call).
    check(f"ARCHITECTURE.md's {crate} line has a line", crate in entries, sorted(entries))
functions_row = next((line for line in architecture.splitlines() if line.startswith("| `functions/*`")), "")
for function in ("chat-stream", "chat-complete", "index"):
    tree = {m.split("::")[0] for m in modules(f"functions/{function}") if m}
    named = set(re.findall(r"`([a-z_]+)`", functions_row))
    check(f"ARCHITECTURE.md names every module of {function}", tree <= named, sorted(tree - named))

failed = [c for c in checks if not c[1]]
for name, ok, detail in checks:
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if not ok and detail != "" else ""))
print(f"structure: {len(checks) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
