"""~/.git-credentials as `git credential-store` keeps it: one URL per line,
`https://user:TOKEN@host`, user and password URL-encoded. See _kinds.py."""
from urllib.parse import quote

from _kinds import replace_line, run

USER, HOST = "torn-bot", "github.com"


def render(old, token):
    prefix = f"https://{quote(USER, safe='')}:"
    return replace_line(old, prefix, f"{prefix}{quote(token, safe='')}@{HOST}")


if __name__ == "__main__":
    run(render)
