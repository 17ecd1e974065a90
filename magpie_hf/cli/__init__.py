"""The `magpie-hf` command line."""

from magpie_hf.cli.main import main

__all__ = ["main"]
