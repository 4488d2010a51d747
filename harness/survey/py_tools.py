"""Line-protocol wrappers of Python libraries that write config files, for
harness/survey.sh: each installs the token the way the library's own docs
show, with the library's own file writing.

    python3 py_tools.py TOOL PATH      (one token per line in; ok / err out)

dotenv        python-dotenv's set_key(PATH, "OPENAI_API_KEY", token)   [dotenv]
configobj     ConfigObj(PATH); c["DEFAULT"]["token"] = token; c.write() [ini]
tomlkit       tomlkit.toml_file.TOMLFile(PATH).read(), set, .write()  [toml]
ruamel-yaml   ruamel.yaml round-trip load, set, dump to the Path      [yaml]
configparser  the stdlib's documented idiom: read, set,
              config.write(open(PATH, "w"))                           [ini]
"""
import sys
from pathlib import Path


def dotenv(path, token):
    from dotenv import set_key

    set_key(path, "OPENAI_API_KEY", token)


def configobj(path, token):
    from configobj import ConfigObj

    config = ConfigObj(path)
    config["DEFAULT"]["token"] = token
    config.write()


def tomlkit(path, token):
    from tomlkit.toml_file import TOMLFile

    f = TOMLFile(path)
    doc = f.read()
    doc["default"]["token"] = token
    f.write(doc)


def ruamel_yaml(path, token):
    from ruamel.yaml import YAML

    yaml = YAML()
    p = Path(path)
    config = yaml.load(p)
    config["model"]["api_key"] = token
    for provider in config.get("fallback_providers") or []:
        provider["api_key"] = token
    yaml.dump(config, p)


def configparser(path, token):
    import configparser as cp

    config = cp.ConfigParser(interpolation=None)
    config.read(path)
    config["DEFAULT"]["token"] = token
    with open(path, "w") as f:
        config.write(f)


TOOLS = {
    "dotenv": dotenv,
    "configobj": configobj,
    "tomlkit": tomlkit,
    "ruamel-yaml": ruamel_yaml,
    "configparser": configparser,
}

if __name__ == "__main__":
    update, path = TOOLS[sys.argv[1]], sys.argv[2]
    for line in sys.stdin:
        try:
            update(path, line.strip())
        except Exception as e:
            print(f"err {type(e).__name__}: {e}".replace("\n", " "), flush=True)
        else:
            print("ok", flush=True)
