#!/bin/sh
# scale_hop_absence.sh, then a hand-over: one detector leaves, the other
# takes its partitions with their expected keys; db5 stays one incident
# and the live hosts none (~60 s; the hop lags 5 s here).
HANDOVER=1
. "$SRCDIR/tests/integration/scale_hop_absence.sh"
