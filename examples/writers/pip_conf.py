"""pip.conf with the token inside a URL, as configparser writes it:
`index-url = https://__token__:TOKEN@pypi.example.com/simple`. See _kinds.py."""
import configparser
import io

from _kinds import run


def render(old, token):
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(old)
    if not config.has_section("global"):
        config.add_section("global")
    config.set("global", "index-url", f"https://__token__:{token}@pypi.example.com/simple")
    out = io.StringIO()
    config.write(out)
    return out.getvalue()


if __name__ == "__main__":
    run(render)
