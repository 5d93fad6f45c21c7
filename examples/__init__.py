"""Small real programs after the concurrency guide, one per kind of bottleneck.

Each module has a function to diagnose and an ``INPUTS`` list (or ``inputs()``) sized
to run in a second or two, e.g.::

    concdoctor profile examples.cpu_bound:sum_of_squares --inputs-from examples.cpu_bound:INPUTS
"""
