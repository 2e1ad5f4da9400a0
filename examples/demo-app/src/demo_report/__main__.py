import sys

from demo_report import main

sys.exit(main())
