"""A Codex .env rotator that rewrites the whole file the way dotenv
libraries' set_key(quote_mode="always") leave it: every value double-quoted,
comments dropped. Atomic replace; torn learns the quoted shape and passes it.

    torn gate --format dotenv --writer-stdio 'python3 examples/writers/dotenv_writer.py {path}'
"""
from _atomic import replace
from _protocol import main

KEY = "OPENAI_API_KEY"


def parse(text):
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip().strip("'\"")
    return values


def update(path, token):
    try:
        with open(path) as f:
            values = parse(f.read())
    except FileNotFoundError:
        values = {}
    values[KEY] = token
    replace(path, "".join(f'{k}="{v}"\n' for k, v in values.items()))


if __name__ == "__main__":
    main(update)
