"""Superset as code: the YAML bundle (v1 export format), roles, and the apply/export commands."""
