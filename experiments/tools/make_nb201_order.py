"""Regenerate nasframe/spaces/resources/nb201_order.npy from an NB201 table.

The official NAS-Bench-201 index order is not a formula of the ops (the
benchmark stores its architectures in a shuffled order), so the package
carries it as a permutation: ``order[official_index] = product_code`` where
``product_code`` reads the six op indices as base-5 digits in string order.

    python experiments/tools/make_nb201_order.py ../shared/data/nasbench201/nb201_all_15625.csv
"""
import csv
import sys
from pathlib import Path

import numpy as np

from nasframe.spaces.nb201 import NB201Space

space = NB201Space(use_official_order=False)
rows = list(csv.DictReader(open(sys.argv[1])))
order = np.empty(len(rows), dtype=np.uint16)
for r in rows:
    order[int(r["nb201_index"])] = space.index(space.parse(r["arch_str"]))
assert len(set(order.tolist())) == 15625
out = Path(__file__).resolve().parents[2] / "nasframe" / "spaces" / "resources" / "nb201_order.npy"
np.save(out, order)
print(f"wrote {out}")
