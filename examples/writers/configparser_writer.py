"""A .databrickscfg rotator built on configparser: read, set [DEFAULT]
token, write back (`key = value`, comments dropped, a blank line after each
section), atomic replace. torn learns configparser's shape and passes it.

    torn gate --format ini --writer-stdio 'python3 examples/writers/configparser_writer.py {path}'
"""
import configparser
import io

from _atomic import replace
from _protocol import main


def update(path, token):
    config = configparser.ConfigParser(interpolation=None)
    config.read(path)
    config["DEFAULT"]["token"] = token
    out = io.StringIO()
    config.write(out)
    replace(path, out.getvalue())


if __name__ == "__main__":
    main(update)
