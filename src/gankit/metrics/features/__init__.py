"""Feature extractors for metrics and feature-space losses."""
