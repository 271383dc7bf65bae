"""Sangam's dbt project (staging → intermediate → marts) and the Python helpers around it."""
