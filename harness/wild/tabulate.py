#!/usr/bin/env python3
"""Tabulates harness/wild.sh's runs: reports/reference/in-the-wild/README.md.

Every number comes from the runs' report.json files (written by `torn repro
NAME`); what each tool should do instead (the fix) is written here, once.
"""
import json
import pathlib
import sys

PAIRS = [
    ("npm-token", "`npm config set //registry.npmjs.org/:_authToken …`", "npm's config loader + `getAuth` (the token npm sends)",
     "write `.npmrc` to a temp file in its directory (mode 0600) and rename it over — `write-file-atomic`, which npm already ships for package.json"),
    ("pip-index-url", "`pip config --user set global.index-url …`", "pip's `Configuration.load()` (the index-url password)",
     "`Configuration._save`: write to a temp file beside pip.conf, `fsync`, `os.replace` (keeping the file's mode)"),
    ("poetry-http-basic", "`poetry config http-basic.torn torn …`", "poetry's `Config` + `PasswordManager.get_http_auth`",
     "write `auth.toml` (and config.toml) through a temp file created 0600 in the same directory, then `os.replace`"),
    ("kubectl-credentials", "`kubectl config set-credentials torn --token=…`", "`kubectl config view --raw` (the kubeconfig as every kubectl call loads it)",
     "client-go `clientcmd.WriteToFile`: write a temp file in the kubeconfig's directory and `os.Rename` it (the `.lock` file already serialises writers)"),
    ("cargo-credentials", "`echo TOKEN | cargo login --registry torn`", "`cargo owner --list` against a local registry (the Authorization header cargo sent)",
     "write credentials.toml to a temp file created 0600 beside it and rename it over, instead of writing in place and `ftruncate`"),
    ("git-credential-store", "`git credential-store store`", "`git credential fill` (the password git would use)",
     "none for readers: it writes `.git-credentials.lock` and renames it over the file — the recipe the others need (an `fsync` before the rename would also make it survive a power cut)"),
]

FINDING_WORDS = {
    "truncates-target": "truncates the file in place",
    "writes-target-in-place": "writes the file in place",
    "no-fsync-before-rename": "renames (atomic for readers), no fsync before the rename",
    "no-dir-fsync": "no fsync of the directory",
}


def pct(p):
    v = p * 100
    if v == 0:
        return "0%"
    return f"{v:.2f}%" if v >= 0.01 else f"{v:.4f}%"


def main(out):
    out = pathlib.Path(out)
    versions = {}
    vf = out / "versions.txt"
    if vf.exists():
        for line in vf.read_text().splitlines():
            name, _, ver = line.partition("\t")
            versions[name] = ver
    rows, details = [], []
    for name, writer, client_desc, fix in PAIRS:
        d = out / name
        if (d / "skipped.txt").exists():
            rows.append(f"| `{name}` | {versions.get(name, '—')} | skipped: {(d / 'skipped.txt').read_text().strip()} | | | | | {fix} |")
            continue
        if not (d / "report.json").exists():
            continue
        r = json.loads((d / "report.json").read_text())
        tool = next(c for c in r["cases"] if not c["label"].startswith("control"))
        control = next((c for c in r["cases"] if c["label"].startswith("control")), None)
        tc = tool["client"]
        e = tc["failures_per_call"]
        findings = [FINDING_WORDS.get(f["finding"], f["finding"]) for f in (tool.get("trace") or {}).get("recipes", {}).get("findings", [])]
        recipe = "; ".join(findings) if findings else "atomic (rename)"
        torn_bad = sum(o["estimate"]["count"] for o in tool["outcomes"] if o["outcome"] != "ok")
        if tc["failures"]:
            fails = (f"**{tc['failures']:,}** of {tc['calls']:,} calls: {pct(e['rate'])} "
                     f"(95% {pct(e['low'])}–{pct(e['high'])})")
        else:
            fails = f"0 of {tc['calls']:,} calls (95% bound {pct(e['high'])} per call)"
        ctl = "—"
        if control and control.get("client"):
            cc = control["client"]
            ctl = f"{cc['failures']:,} of {cc['calls']:,} calls, {cc['failures_per_s']:.2f}/s"
        rows.append(
            f"| [`{name}`]({name}/report.md) | {versions.get(name, '—')} | {recipe} | "
            f"{tc['writes']:,} writes in {tc['rotation_s']:.1f} s ({tool['writes']['per_s']:.1f}/s); "
            f"client {tc['calls_per_s']:.0f} calls/s | {fails} | **{tc['failures_per_s']:.3f}/s** "
            f"({tc['failures_per_write']:.3f} per write) | {ctl} | {fix} |"
        )
        lines = [f"### `{name}`: {writer} vs {client_desc}", ""]
        lines.append(f"- torn's own reader: {torn_bad:,} of {tool['reads']:,} reads not a whole current version "
                     f"({', '.join(o['outcome'] + ' ' + format(o['estimate']['count'], ',') for o in tool['outcomes'] if o['estimate']['count'] and o['outcome'] != 'ok') or 'none'}); status `{tool['status']}`")
        for o in tc["outcomes"]:
            if o["calls"] and o["outcome"] != "current":
                first = o.get("first") or {}
                lines.append(f"- {o['calls']:,} × {o['effect']} ({o['per_s']:.3f}/s; first after "
                             f"{first.get('at_ms', 0) / 1e3:.2f} s, answer `{first.get('answer', '')[:60]}`)")
        if not tc["failures"]:
            lines.append(f"- every one of {tc['calls']:,} calls: {tc['outcomes'][0]['effect']}")
        hw = d / "home-writes.txt"
        if hw.exists():
            lines.append(f"- **wrote into HOME** (outside torn's scratch HOME): {', '.join(hw.read_text().split()[:10])}")
        else:
            lines.append("- HOME (an empty stand-in) stayed empty: every file the tools wrote was in torn's scratch HOME")
        lines.append(f"- run: `{r['command']}` at {r['created']} (seed {r['seed']})")
        lines.append(f"- verdict: `{r['verdict']['status']}` (exit {r['verdict']['exit_code']}); "
                     f"{r['environment']['fs_type']}, kernel {r['environment']['kernel']}, {r['environment']['cpus']} CPUs")
        details.append("\n".join(lines))
    text = HEADER + "\n".join(rows) + "\n\n" + "\n\n".join(details) + "\n"
    (out / "README.md").write_text(text)


HEADER = """# The Hermes bug in the wild

`harness/wild.sh` runs, for each pair, `torn repro NAME`: the real tool
rewrites its credentials file once per write (`writer_cmd`, traced), while
the real client's own loader reads it back through `reader_stdio` — an
adapter that answers each `read` with the token the client would send,
`none`, or `err <reason>` — and a scenario's `client:` profile says what the
client then does. In the same run, a `printf >` writer of the same file is
the positive control: the same client, the same file, a writer known to
truncate. All tools ran with HOME, XDG directories and their own variables
(`--userconfig`, `--kubeconfig`, `POETRY_CONFIG_DIR`, pip's user file) inside
torn's scratch HOME. Each pair's `report.md` and `report.json` are beside this
file, with `terminal.txt` (torn's table and the client's lines) and
`exit-code`; `versions.txt` lists the tools.

**Failures per second of rotation** is the client's failed calls divided by
the seconds the tool rotated the file back to back, with the client called
back to back as well (its calls per second are in the table): a real client
called less often fails proportionally less often, a rotator that writes
less often too — the per-call rate and the per-write rate let you scale it.

| pair | version | the tool's recipe (traced) | rotation; client | the client's failed calls | failures per second of rotation | control (`printf >`) | the fix |
|---|---|---|---|---|---|---|---|
"""

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "reports/reference/in-the-wild")
