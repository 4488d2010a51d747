"""A Hermes config.yaml rotator built on PyYAML: safe_load, set the api_key
of the model and of every fallback provider, safe_dump (keys sorted,
comments dropped, its own indentation), atomic replace. torn learns the
dumped shape and passes it.

    torn gate --format yaml --writer-stdio 'python3 examples/writers/yaml_dump.py {path}'
"""
import yaml

from _atomic import replace
from _protocol import main


def update(path, token):
    with open(path) as f:
        config = yaml.safe_load(f) or {}
    config.setdefault("model", {})["api_key"] = token
    for provider in config.get("fallback_providers") or []:
        provider["api_key"] = token
    replace(path, yaml.safe_dump(config))


if __name__ == "__main__":
    main(update)
