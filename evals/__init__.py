"""Evaluation: the set of known answers, its metrics and runner."""
