"""The annotation terminal UI (Textual). Only this package imports Textual."""
