#!/usr/bin/env bash
# Renders torn report pages in headless Chromium at 1280 px, saves a PNG of
# each, and checks the layout in the browser itself:
#
#   harness/screenshot.sh reports/<run>/report.html [more.html ...]
#   harness/screenshot.sh --out DIR page.html ...     # PNGs into DIR
#
# For each page it prints the PNG's path, then `layout ok` or one line per
# problem: the page wider than the window (a table or a line that does not
# fit), a table wider than the page, or an SVG text (a row label, a legend
# entry, an axis label) drawn outside its plot — clipped. It exits 1 if any
# page has a problem. LOOK at the PNGs too: the check finds overflow and
# clipping, not ugliness.
#
# Installs Debian's chromium if it is missing (needs root for that).
set -euo pipefail
out_dir=
if [ "${1:-}" = --out ]; then
  out_dir=$2
  shift 2
  mkdir -p "$out_dir"
fi
[ $# -ge 1 ] || { echo "usage: harness/screenshot.sh [--out DIR] page.html ..." >&2; exit 64; }
if ! command -v chromium >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || { echo "screenshot: chromium is not installed (apt-get install chromium)" >&2; exit 1; }
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
width=1280

chrome() {
  local profile
  profile=$(mktemp -d "$work/profile.XXXXXX")
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --window-size=$width,2000 "$@" 2>/dev/null
}

# The check runs in the page: a copy of it with this script added, whose
# findings replace the body, read back with --dump-dom.
check_js='<script>//<![CDATA[
window.addEventListener("load", function () {
  var W = window.innerWidth, problems = [];
  var name = function (el) {
    var t = (el.textContent || "").replace(/\s+/g, " ").trim();
    return el.tagName.toLowerCase() + " \"" + t.slice(0, 60) + "\"";
  };
  if (document.documentElement.scrollWidth > W + 1)
    problems.push("page is " + document.documentElement.scrollWidth + " px wide in a " + W + " px window");
  document.querySelectorAll("table, pre, p, li, h1, h2, h3, h4").forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.right > W + 1 || el.scrollWidth > el.clientWidth + 1)
      problems.push(name(el) + " overflows: right edge " + Math.round(r.right) + " px, content " + el.scrollWidth + " px in " + el.clientWidth);
  });
  document.querySelectorAll("svg").forEach(function (svg) {
    // On screen, so rotated axis titles are measured as drawn.
    var s = svg.getBoundingClientRect();
    svg.querySelectorAll("text").forEach(function (t) {
      var b = t.getBoundingClientRect();
      if (b.width > 0 && (b.left < s.left - 1 || b.right > s.right + 1 || b.top < s.top - 1 || b.bottom > s.bottom + 1))
        problems.push("plot text clipped: \"" + t.textContent.trim().slice(0, 60) + "\" at x " + Math.round(b.left - s.left) + ".." + Math.round(b.right - s.left) + " of " + Math.round(s.width) + " px");
    });
  });
  var pre = document.createElement("pre");
  pre.id = "torn-layout";
  pre.textContent = problems.length ? problems.join("\n") : "layout ok";
  document.body.innerHTML = "";
  document.body.appendChild(pre);
});
//]]></script>'

status=0
for page in "$@"; do
  page=$(realpath "$page")
  if [ -n "$out_dir" ]; then
    base=$(basename "$(dirname "$page")")
    out="$out_dir/$base.png"
  else
    out=${page%.html}.png
  fi
  chrome --screenshot="$out" "file://$page"
  echo "$out"
  copy="$work/check.html"
  sed 's#</body></html>##' "$page" >"$copy"
  printf '%s\n</body></html>\n' "$check_js" >>"$copy"
  result=$(chrome --dump-dom "file://$copy" | tr '\n' '\r' |
    sed -n -e 's/.*<pre id="torn-layout">//' -e 's#</pre>.*##p' | tr '\r' '\n' |
    sed -e 's/&quot;/"/g' -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&amp;/\&/g')
  if [ -z "$result" ]; then
    echo "  layout: the check did not run" >&2
    status=1
  elif [ "$result" = "layout ok" ]; then
    echo "  layout ok"
  else
    echo "$result" | sed 's/^/  /'
    status=1
  fi
done
exit $status
