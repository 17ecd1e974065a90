"""Pipelines: one package each, registering its stages, tables, card and hooks (see `core.pipeline`)."""
