"""Retrieval: hybrid search and answers with citations."""
