"""Screens of the annotation UI."""
