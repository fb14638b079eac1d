#!/bin/bash
# warm re-run of full-LFW verification, x4 + x8, dlib: old (882fcae) vs new (HEAD), alternating
# usage: git worktree add /tmp/old882 882fcae; VENV=$PWD/.venv DATA=$PWD/../shared/data scripts/bench/warm_rerun.sh
. ${VENV:-.venv}/bin/activate
cd /tmp
args="--model bicubic --protocol lfw-verification --scale 4 --scale 8 --fr dlib-resnet29 --data-root ${DATA:-../shared/data} --no-progress --no-report"
for impl in old new; do
  pp=""; [ $impl = old ] && pp=/tmp/old882
  PYTHONPATH=$pp /usr/bin/time -f "$impl cold %e s" python -m srfacebench.cli run $args --out /tmp/warm-$impl > /dev/null 2>/tmp/warm-$impl-cold.err; tail -1 /tmp/warm-$impl-cold.err
done
for k in 1 2 3; do for impl in old new; do
  pp=""; [ $impl = old ] && pp=/tmp/old882
  PYTHONPATH=$pp /usr/bin/time -f "$impl warm %e s" python -m srfacebench.cli run $args --out /tmp/warm-$impl > /dev/null 2>/tmp/warm.err; tail -1 /tmp/warm.err
done; done
