"""`python -m herald.local demo|up`: the local run without the installed `herald` command."""

from herald.local.cli import local

local()
