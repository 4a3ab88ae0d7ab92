"""``python -m app``: the StyleCam command line (see ``app.cli.main``)."""
from app.cli.main import main

main()
