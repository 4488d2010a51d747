"""An htpasswd-style file: `user:secret` lines (here the token itself, as
`htpasswd -p` stores a plain password), other users kept. See _kinds.py."""
from _kinds import replace_line, run

USER = "deploy"

if __name__ == "__main__":
    run(lambda old, token: replace_line(old, USER + ":", f"{USER}:{token}"))
