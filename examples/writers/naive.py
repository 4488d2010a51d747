"""The Hermes rotator as it was: read, regex-replace the api_key lines, then
open(path, "w") and write — truncate first, so readers can see an empty or
half-written file. torn's gate fails it."""
import re

from _protocol import main

API_KEY = re.compile(r"^(  api_key: ).*$", re.MULTILINE)


def update(path, token):
    with open(path) as f:
        content = f.read()
    new = API_KEY.sub(lambda m: m.group(1) + token, content)
    with open(path, "w") as f:  # the window opens here
        f.write(new)


if __name__ == "__main__":
    main(update)
