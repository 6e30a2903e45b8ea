"""``python -m reports FILE`` is the same as ``python -m reports.summary FILE``."""

import sys

from reports.summary import main

sys.exit(main())
