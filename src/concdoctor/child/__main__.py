from __future__ import annotations

from concdoctor.child.serve import main

main()
