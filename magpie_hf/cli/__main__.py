import sys

from magpie_hf.cli.main import main

sys.exit(main())
