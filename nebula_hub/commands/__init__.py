"""CLI command modules. Each module defines `register(subparsers)`; `nebula_hub.cli` discovers them in name order."""
