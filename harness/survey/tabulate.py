"""Turns a survey's runs (runs/<tool>/<fs>-<run>/report.json, written by
harness/survey.sh) into survey.json and the README.md table.

    python3 tabulate.py OUT_DIR
"""
import json
import os
import re
import sys

OUT = sys.argv[1]
RUNS = os.path.join(OUT, "runs")
BAD = ["empty", "missing", "torn-unparseable", "torn-parseable", "error", "foreign"]


def load(tool, fs, run):
    path = os.path.join(RUNS, tool, f"{fs}-{run}", "report.json")
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, ValueError):
        return None
    subject = next((c for c in report["cases"] if not c["label"].startswith("control")), None)
    if subject is None:
        return None
    with open(os.path.join(RUNS, tool, f"{fs}-{run}", "exit-code")) as f:
        subject["exit_code"] = int(f.read().strip() or 0)
    return subject


def count(case, outcome):
    return next(o["estimate"]["count"] for o in case["outcomes"] if o["outcome"] == outcome)


def link(tool, fs, run, text):
    return f"[{text}](runs/{tool}/{fs}-{run}/report.md)"


def error_of(case):
    """The subject error without its preamble and the token."""
    e = (case.get("subject_error") or "").split(" — ")[0]
    e = e.replace("learning the writer's shape: ", "")
    return re.sub(r" \(token dapi[0-9a-f]+\)(: | failed: )?", ": ", e)


RECIPE_MAX = 160


def md_escape(text):
    return text.replace("|", "\\|")


def recipe_of(case):
    """The recipe data of a case: the most used recipe, every recipe with its
    writes, the findings (name, writes, whether readers can be hurt), and why
    the writer ran untraced if it did."""
    if case.get("trace") is None:
        return None  # a run made before the tracer
    trace = case["trace"]
    book = trace.get("recipes") or {}
    summary = trace.get("summary") or {}
    recipes = book.get("recipes") or []
    return {
        "recipe": recipes[0]["recipe"] if recipes else None,
        "recipe_writes": recipes[0]["writes"] if recipes else 0,
        "traced_writes": book.get("writes", 0),
        "recipes": recipes,
        "other_recipes": book.get("other_recipes", 0),
        "findings": [
            {"finding": f["finding"], "writes": f["writes"], "anomaly": f["finding"] not in DURABILITY_ONLY}
            for f in book.get("findings") or []
        ],
        "recipe_anomalies": case.get("recipe_anomalies", 0),
        "untraced": summary.get("untraced"),
    }


HOME = re.compile(r"/[^\s(),]*/torn-[A-Za-z0-9]{6}/[^/\s]+/home/")


def shorten(recipe):
    """A recipe of at most RECIPE_MAX characters: paths in the run's scratch
    home written from ~/, then the reads of the old file (opens O_RDONLY and
    the closes) elided as "…", then, if still too long, the middle calls
    (the first and last are kept: the rename is at the end)."""
    recipe = HOME.sub("~/", recipe)
    if len(recipe) <= RECIPE_MAX:
        return recipe
    steps = []
    for step in recipe.split(" → "):
        quiet = step.startswith("close(") or step.endswith(", O_RDONLY)")
        if quiet and steps and steps[-1] == "…":
            continue
        steps.append("…" if quiet else step)
    recipe = " → ".join(steps)
    if len(recipe) <= RECIPE_MAX:
        return recipe
    steps = [s for s in steps if s != "…"]
    head, tail = [], []
    i, j = 0, len(steps) - 1
    while i <= j:
        # Alternate, the end first: keep a call while it fits.
        take_tail = len(tail) <= len(head)
        trial = head + ["…", steps[j]] + tail if take_tail else head + [steps[i], "…"] + tail
        if len(" → ".join(trial)) > RECIPE_MAX:
            break
        if take_tail:
            tail.insert(0, steps[j])
            j -= 1
        else:
            head.append(steps[i])
            i += 1
    return " → ".join(head + ["…"] + tail)


DURABILITY_ONLY = {"no-fsync-before-rename", "no-dir-fsync"}


def recipe_cell(tool, fs, r):
    """The most used recipe (shortened if very long) and the findings' names,
    those that can hurt readers in bold."""
    if r is None:
        return "—"
    if r["recipe"] is None:
        return "untraced: " + md_escape(r["untraced"] or "no write traced")[:100]
    text = shorten(r["recipe"])
    cell = f"`{md_escape(text.replace('`', chr(39)))}`"
    distinct = len(r["recipes"]) + (1 if r["other_recipes"] else 0)
    if r["traced_writes"] and r["recipe_writes"] < r["traced_writes"]:
        cell += f" ({r['recipe_writes']} of {r['traced_writes']} writes; {distinct} recipes)"
    if r["findings"]:
        names = ", ".join(f"**{f['finding']}**" if f["anomaly"] else f["finding"] for f in r["findings"])
        cell += "; " + link(tool, fs, "single", names)
    if r["untraced"]:
        cell += "; partly untraced: " + md_escape(r["untraced"])[:80]
    return cell


def single(tool, fs):
    c = load(tool, fs, "single")
    if c is None:
        return {"error": "no report"}, "no report", "—", "—", "—", "—", None
    shape = c.get("shape") or {}
    kind = shape.get("kind") or "not learned"
    if shape.get("volatile"):
        kind += " (volatile: " + ", ".join(shape["volatile"]) + ")"
    bad = {o: count(c, o) for o in BAD if count(c, o)}
    watch = c["watch"]
    kill = c.get("kill_trials") or {}
    after_kill = {o: n for o, n in kill.get("after_kill", []) if o != "ok"}
    data = {
        "status": c["status"],
        "exit_code": c["exit_code"],
        "shape": shape.get("kind"),
        "volatile": shape.get("volatile", []),
        "reads": c["reads"],
        "exposed_reads": c["exposed_reads"],
        "writes": c["writes"]["committed"],
        "bad_reads": bad,
        "mode_before": oct(watch["mode_before"]),
        "mode_after": oct(watch["mode_after"]),
        "mode_widened": watch["mode_widened"],
        "exposures": watch["exposures"],
        "litter_after_run": watch.get("litter", []),
        "kill_trials": kill.get("trials", 0),
        "littered_after_kill": kill.get("littered", 0),
        "target_after_kill": after_kill,
        "subject_error": c.get("subject_error"),
        "trace": recipe_of(c),
    }
    if c["status"] == "subject-error":
        cell = link(tool, fs, "single", "subject error: " + error_of(c)[:120].replace("|", "\\|"))
        return data, cell, kind, "—", "—", "—", data["trace"]
    if bad:
        reads = ", ".join(f"{o} {n:,}" for o, n in bad.items())
        reads = link(tool, fs, "single", f"**{reads}** of {c['exposed_reads']:,} exposed")
    else:
        reads = f"0 in {c['exposed_reads']:,} exposed ({c['writes']['committed']} writes)"
    mode = f"{watch['mode_before']:04o} → {watch['mode_after']:04o}"
    if watch["mode_widened"] or watch["exposures"]:
        mode = link(tool, fs, "single", f"**{mode} widened**" if watch["mode_widened"] else f"**{mode}; token in a group/other-readable file**")
    litter = f"{len(watch.get('litter', []))} / "
    if kill:
        broken = sum(after_kill.values())
        litter += f"{kill.get('littered', 0)} of {kill.get('trials', 0)} kills"
        if broken:
            litter += f"; target broken after {broken}"
        if kill.get("littered") or broken or watch.get("litter"):
            litter = link(tool, fs, "single", f"**{litter}**")
    else:
        litter += "— (kill trials not run)"
    status = c["status"]
    if status == "inconclusive":
        m = re.search(r"only (.*?) —", c["reason"])
        status += f" ({m.group(1)} in the budget)" if m else ""
    return data, reads, kind, mode, litter, status, data["trace"]


def two_writers(tool, fs):
    c = load(tool, fs, "two-writers")
    if c is None:
        return {"error": "no report"}, "no report"
    stale, regress = count(c, "stale"), c.get("regressions", 0)
    lost = c["final_state"] != "ok"
    data = {
        "status": c["status"],
        "stale_reads": stale,
        "regressions": regress,
        "final_state": c["final_state"],
        "write_errors": c["writes"]["errors"],
        "bad_reads": {o: count(c, o) for o in BAD if count(c, o)},
        "subject_error": c.get("subject_error"),
    }
    if c["status"] == "subject-error":
        return data, link(tool, fs, "two-writers", "subject error: " + error_of(c)[:60])
    parts = []
    if stale:
        parts.append(f"stale {stale:,}")
    if regress:
        parts.append(f"{regress} went back in time")
    if lost:
        parts.append("final file lost a change")
    if c["writes"]["errors"]:
        parts.append(f"{c['writes']['errors']} write errors")
    other = sum(data["bad_reads"].values())
    if other:
        parts.append(f"torn/empty {other:,}")
    data["recipe_anomalies"] = c.get("recipe_anomalies", 0)
    if not parts and data["recipe_anomalies"]:
        # Failed on the writes' recipe before a read could show anything.
        parts.append(f"{data['recipe_anomalies']} writes with a recipe finding")
    if not parts:
        return data, f"none in {c['exposed_reads']:,} exposed"
    return data, link(tool, fs, "two-writers", "**" + ", ".join(parts) + "**")


def symlink(tool, fs):
    c = load(tool, fs, "symlink")
    if c is None:
        return {"error": "no report"}, "no report"
    s = c["watch"].get("symlink")
    if c["status"] == "subject-error":
        return {"subject_error": c.get("subject_error")}, link(tool, fs, "symlink", "subject error: " + error_of(c)[:60])
    if s is None:
        return {}, "—"
    data = dict(s)
    if s["link_survived"] and s["linked_file_current"]:
        return data, "kept, written through"
    what = "replaced by a regular file" if not s["link_survived"] else "kept"
    if not s["linked_file_current"]:
        what += "; dotfile stale"
    return data, link(tool, fs, "symlink", what)


def main():
    tools = []
    with open(os.path.join(RUNS, "tools.tsv")) as f:
        for line in f:
            name, lang, fmt, version, cmd = line.rstrip("\n").split("\t")
            tools.append({"tool": name, "language": lang, "format": fmt, "version": version, "command": cmd})
    filesystems = sorted(
        {d.split("-")[0] for t in tools if os.path.isdir(os.path.join(RUNS, t["tool"])) for d in os.listdir(os.path.join(RUNS, t["tool"]))},
        key=lambda fs: (fs != "ext4", fs),
    )
    survey = {"schema": "torn.survey/1", "filesystems": filesystems, "tools": []}
    md = []
    for fs in filesystems:
        md.append(f"\n### {fs}\n")
        md.append("| tool | language | version | format | learned shape | torn/empty reads (1 writer) | stale / lost updates (2 writers) | mode of a 0600 file | symlinked target | litter: after run / after kills | recipe | verdict (1 writer) |")
        md.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for t in tools:
            if t["command"].startswith("skipped"):
                if fs == filesystems[0]:
                    md.append(f"| {t['tool']} | {t['language']} | — | {t['format']} | {t['command']} | | | | | | — | |")
                continue
            s_data, reads, kind, mode, litter, status, recipe = single(t["tool"], fs)
            w_data, writers = two_writers(t["tool"], fs)
            l_data, link_cell = symlink(t["tool"], fs)
            md.append(f"| {t['tool']} | {t['language']} | {t['version']} | {t['format']} | {kind} | {reads} | {writers} | {mode} | {link_cell} | {litter} | {recipe_cell(t['tool'], fs, recipe)} | {status} |")
            entry = next((e for e in survey["tools"] if e["tool"] == t["tool"]), None)
            if entry is None:
                entry = dict(t, recipe=None, findings=[], runs={})
                survey["tools"].append(entry)
            # The tool's recipe and findings: those of its single-writer run
            # on the first file system (ext4 when it ran).
            if recipe is not None and entry["recipe"] is None and not entry["findings"]:
                entry["recipe"] = recipe["recipe"]
                entry["findings"] = recipe["findings"]
            entry["runs"][fs] = {"single": s_data, "two_writers": w_data, "symlink": l_data}
    with open(os.path.join(OUT, "survey.json"), "w") as f:
        json.dump(survey, f, indent=2)
        f.write("\n")
    readme = os.path.join(OUT, "README.md")
    head = ""
    if os.path.exists(readme):
        with open(readme) as f:
            head = f.read().split("<!-- table -->")[0]
    with open(readme, "w") as f:
        f.write(head or "# Survey\n\n")
        f.write("<!-- table -->\n")
        f.write("\n".join(md).lstrip("\n") + "\n")


main()
