#!/usr/bin/env bash
exec bash "$top_srcdir/tests/gfs2-cluster-aoeraid.sh" 5 3
