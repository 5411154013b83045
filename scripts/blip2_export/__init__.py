"""Helpers of scripts/export_blip2.py: the graphs and their export (graphs.py), the checks (check.py)."""
