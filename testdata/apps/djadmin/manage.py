#!/usr/bin/python3
"""The admin test project's manage.py (migrate, createsuperuser)."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminsite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
