"""Placeholder, replaced by the part's owner."""

import typer


def register(root: typer.Typer) -> None:
    """Top-level commands of this module (none yet)."""
