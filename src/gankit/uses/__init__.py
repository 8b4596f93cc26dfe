"""What generative models are for, one module each: inpainting, anomalies, representatives and modes,
structure (interpolation, SeFa, GANSpace), the semi-supervised prior, projection ("more samples like x")."""
