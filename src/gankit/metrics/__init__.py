"""Measurements of generated samples on feature vectors: FID, KID, Inception Score, precision/recall,
their uncertainty, and mode coverage on known mixtures. Feature extractors live in ``features/``."""
