"""The contract every layer trades in: errors and their codes, media types, encode plans,
resources. It imports nothing from the rest of Strobe (docs/ARCHITECTURE.md, "Layers")."""
