"""A kubeconfig rewritten with PyYAML: the token at `users[0].user.token`
(a list element), everything else kept. See _kinds.py."""
import yaml

from _kinds import run


def render(old, token):
    doc = yaml.safe_load(old) if old.strip() else None
    if not isinstance(doc, dict):
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "prod", "cluster": {"server": "https://k8s.example.com:6443"}}],
            "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "ci"}}],
            "current-context": "prod",
            "users": [{"name": "ci", "user": {}}],
        }
    doc["users"][0]["user"]["token"] = token
    return yaml.safe_dump(doc, default_flow_style=False)


if __name__ == "__main__":
    run(render)
