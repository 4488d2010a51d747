"""~/.npmrc as npm writes it: `//registry.npmjs.org/:_authToken=TOKEN`, a key
holding `:` outside any section, other lines kept. See _kinds.py."""
from _kinds import replace_line, run

KEY = "//registry.npmjs.org/:_authToken="

if __name__ == "__main__":
    run(lambda old, token: replace_line(old, KEY, KEY + token))
