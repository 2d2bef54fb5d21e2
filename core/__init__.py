"""Shared types, configuration, errors and model backends for Underlag."""
