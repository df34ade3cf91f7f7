"""`python -m drawdown.cli …` runs the command line (the tests start servers this way)."""

from drawdown.cli.main import main

main()
