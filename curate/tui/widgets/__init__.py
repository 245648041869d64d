"""Widgets of the annotation UI."""
