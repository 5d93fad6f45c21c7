"""The baseline stage: the batch (or a sample of it) once, sequentially, under py-spy."""
