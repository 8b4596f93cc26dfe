"""Measurements of generated samples: mode coverage now; FID, KID, IS and precision/recall to come."""
