"""Confirmation: trials of the batch on executors, what they mean, and the prediction."""
