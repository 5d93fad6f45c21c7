"""What the measurements say beyond the verdict, and the code that applies the advice."""
