"""What generative models are for: representatives and modes, structure, imputation, anomalies, priors."""
