"""Maximum Mean Discrepancy: kernels, estimators, their variance, the witness function, two-sample tests."""
