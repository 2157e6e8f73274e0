"""Allow ``python -m vapora_infra``."""

from vapora_infra.cli import main

main()
