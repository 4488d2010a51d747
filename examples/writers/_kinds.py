"""Shared by the credentials-file example writers (npmrc.py,
git_credentials.py, htpasswd.py, kubeconfig.py, pip_conf.py,
keyring_b64.py, docker_auth.py): each gives `render(old_text, token)`, the
file's new text, and runs it in one of two ways:

    python3 npmrc.py PATH            safe: unique temp, fsync, rename (passes)
    python3 npmrc.py --truncate PATH unsafe: open(PATH, "w"), write (fails)

(and `PATH TOKEN` for one write per command, as every example writer).
"""
import sys

from _atomic import replace
from _protocol import main


def truncate_and_write(path, text):
    with open(path, "w") as f:  # the window opens here: readers can see it empty
        f.write(text)


def run(render):
    write = replace
    if len(sys.argv) > 1 and sys.argv[1] == "--truncate":
        write = truncate_and_write
        del sys.argv[1]

    def update(path, token):
        try:
            with open(path) as f:
                old = f.read()
        except FileNotFoundError:
            old = ""
        write(path, render(old, token))

    main(update)


def replace_line(old, starts, line):
    """`old` with its first line starting with `starts` replaced by `line`
    (appended when there is none); every other line kept as it was."""
    lines = old.splitlines()
    for i, l in enumerate(lines):
        if l.startswith(starts):
            lines[i] = line
            break
    else:
        lines.append(line)
    return "\n".join(lines) + "\n"
