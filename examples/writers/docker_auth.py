"""~/.docker/config.json: `auths.<registry>.auth` holds base64("user:TOKEN"),
written with json.dump. See _kinds.py."""
import base64
import json

from _kinds import run


def render(old, token):
    doc = json.loads(old) if old.strip() else {}
    auth = base64.b64encode(f"ci-bot:{token}".encode()).decode()
    doc.setdefault("auths", {})["ghcr.io"] = {"auth": auth}
    return json.dumps(doc, indent="\t")


if __name__ == "__main__":
    run(render)
