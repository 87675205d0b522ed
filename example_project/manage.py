#!/usr/bin/env python
"""Management for the example site (default) and, with ``--settings devidp.settings``, the
embedded development identity provider."""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_example.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
