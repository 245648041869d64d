"""Suggestions: proposers for story starts, boilerplate, truncation and entities, and learning.

The proposer modules are pure (text in, records out); `service` reads and writes the corpus.
"""
