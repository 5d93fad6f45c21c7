"""Deciding: the kind of bottleneck, the rules' advice, and the capacity model."""
