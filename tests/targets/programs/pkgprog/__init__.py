"""A program run as a package (``python -m pkgprog``) whose loop calls into a module of
its own that uses a relative import: the diagnosis must import it by its dotted name."""
