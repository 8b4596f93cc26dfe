"""What trained models are for: projection (inversion) and sampling near a given image."""
