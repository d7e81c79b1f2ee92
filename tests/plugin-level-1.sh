#!/usr/bin/env bash
exec bash "$top_srcdir/tests/plugin-level.sh" 1 2
