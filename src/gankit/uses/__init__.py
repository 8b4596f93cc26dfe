"""What generative models are for: inpainting, anomaly detection and the other uses, one module each."""
