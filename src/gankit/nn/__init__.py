"""Reusable layers and layer transforms."""
