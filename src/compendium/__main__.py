import sys

# Under make, a served command goes to the warm build server without importing the command line
# (src/compendium/client.py); anything else runs here.
from .client import submit

served = submit(sys.argv[1:])
if served is not None:
    sys.exit(served)

from .cli import main  # noqa: E402  # only when the command runs in this process

sys.exit(main(serve=False))
