"""keyrings.alt's plaintext keyring (keyring_pass.cfg): one section per
service, the password base64-encoded, written with configparser. See
_kinds.py."""
import base64
import configparser
import io

from _kinds import run

SERVICE, USER = "torn-api", "ci"


def render(old, token):
    config = configparser.RawConfigParser()
    config.read_string(old)
    if not config.has_section(SERVICE):
        config.add_section(SERVICE)
    config.set(SERVICE, USER, base64.b64encode(token.encode()).decode())
    out = io.StringIO()
    config.write(out)
    return out.getvalue()


if __name__ == "__main__":
    run(render)
