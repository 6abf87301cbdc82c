"""`python -m server.cli`: the same entry point as the `tenaz` console script."""

from server.cli import main

main()
