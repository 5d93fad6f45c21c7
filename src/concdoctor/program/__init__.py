"""``concdoctor run``: find the loop worth parallelizing in a whole program.

``boot`` and ``recorder`` run inside the program's process; ``session`` is the parent side
that starts and supervises it; ``loops``, ``samples`` and ``candidates`` turn what they
recorded into ranked candidates; ``report`` is the result and its JSON.
"""
