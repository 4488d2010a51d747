"""The Hermes client's read, as torn's external reader (--reader-stdio).

For every `read` line on stdin it loads ~/.hermes/config.yaml the way the
client does (PyYAML's safe_load) and answers with the api_key it would send,
or `err <reason>` if it would get none.

    torn gate --format yaml --writer-stdio '...' \
              --reader-stdio 'python3 examples/readers/hermes_client.py {path}'
"""
import sys

import yaml

path = sys.argv[1]
for _ in sys.stdin:
    try:
        with open(path) as f:
            config = yaml.safe_load(f) or {}
        token = config["model"]["api_key"]
    except Exception as e:  # the client would fail here: no token sent
        print(f"err {type(e).__name__}: {e}".replace("\n", " "), flush=True)
    else:
        print(str(token).replace("\n", " "), flush=True)
