"""``python -m app``: the StyleCam command line (see ``app.cli``)."""
from app.cli import main

main()
