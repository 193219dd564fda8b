"""The benchmark driver behind bench/alloclab-bench, by responsibility:

- options: the command line (argparse), usage errors, --command;
- variants: workloads, allocators, the config schema, sweeps and the
  allocator set-ups (variants) they make;
- measure: one run of a workload under a variant, and what it printed;
- plots: gnuplot scripts and every plot of a report;
- page: the report's README.md and index.html;
- driver: main() and the phases of a run;
- util: what several of them share.

bench/alloclab_profile.py, alloclab_stats.py and alloclab_html.py stay in
bench/ (other code imports them from there): bench/ goes on sys.path here.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
