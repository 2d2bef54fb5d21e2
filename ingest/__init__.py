"""Ingest: load, clean, chunk and index documents into Chroma."""
