"""Scoring tests (a package, so that test_metrics.py here and in tests/portfolio/ do not collide)."""
