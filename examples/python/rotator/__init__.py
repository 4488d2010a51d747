"""Two token rotators for ~/.hermes/config.yaml: one safe, one not."""
