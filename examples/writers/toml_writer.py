"""A credentials.toml rotator: tomllib reads it, [default] token is set,
and the file is written back with tomli_w (or, where tomli_w is not
installed, a small writer of the same shape: tables, quoted strings, lists,
datetimes), comments dropped. Atomic replace; torn learns the shape and
passes it.

    torn gate --format toml --writer-stdio 'python3 examples/writers/toml_writer.py {path}'
"""
import datetime
import json
import tomllib

from _atomic import replace
from _protocol import main

try:
    import tomli_w

    dumps = tomli_w.dumps
except ImportError:

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
            return v.isoformat()
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v)  # a basic TOML string is a JSON string

    def dumps(doc, prefix=""):
        lines = [f"{k} = {value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
        out = "\n".join(lines) + ("\n" if lines else "")
        for k, v in doc.items():
            if isinstance(v, dict):
                name = f"{prefix}.{k}" if prefix else k
                body = dumps(v, name)
                if any(not isinstance(x, dict) for x in v.values()) or not v:
                    out += f"\n[{name}]\n"
                out += body
        return out


def update(path, token):
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    doc.setdefault("default", {})["token"] = token
    replace(path, dumps(doc))


if __name__ == "__main__":
    main(update)
