"""The SPARQ paper's published values (seed 001), the yardstick of every report table.

:data:`PAPER` holds, by backbone, Table 1 (accuracy %, synaptic ops in
millions) and Table 2 (accuracy %, time ms, power W, energy mJ), and for
AlexNet Table 3 (M ops), Table 4 (µJ) and the exit-1 class shares of §3.4
(Figure 2). :func:`published_row` names the numbers of one row.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PAPER", "PAPER_FIELDS", "PAPER_SOURCE", "published_row"]

PAPER_SOURCE = "seed 001 (SPARQ), Tables 1-4 and §3.4"

PAPER_FIELDS: dict[str, tuple[str, ...]] = {
    "table1": ("accuracy", "ops_m"),
    "table2": ("accuracy", "time_ms", "power_w", "energy_mj"),
    "table3": ("synaptic_ops_m", "lif_ops_m", "total_ops_m"),
    "table4": ("e_syn_uj", "e_lif_uj", "e_comp_uj", "reduction"),
}
"""What each number of a published row is, per table."""

_ROWS: dict[str, tuple[str, ...]] = {
    "table1": ("ann", "dynamic_ann", "snn", "qsnn", "qdsnn_0.2_0.4", "qdsnn_0.6_0.7"),
    "table2": ("snn", "qsnn", "qdsnn_0.2_0.4", "qdsnn_0.6_0.7"),
    "table3": ("ann", "snn", "qsnn", "qdsnn"),
    "table4": ("ann", "snn", "qsnn", "qdsnn"),
}
"""The rows each published table has, in the order the values below are written."""

_PUBLISHED: dict[str, dict[str, tuple[tuple[float | None, ...], ...]]] = {
    "mlp": {
        "table1": ((98.02, 41.16), (98.72, 32.22), (95.00, 65.50), (94.50, 50.10), (95.50, 22.30),
                   (97.80, 18.70)),
        "table2": ((95.00, 539.0, 0.080, 43.10), (94.50, 420.0, 0.005, 2.10),
                   (95.50, 105.0, 0.009, 0.95), (97.80, 83.0, 0.012, 0.99)),
    },
    "lenet": {
        "table1": ((99.59, 0.49), (99.54, 0.42), (97.76, 45.17), (93.09, 40.78), (96.01, 13.77),
                   (98.24, 13.92)),
        "table2": ((97.76, 552.0, 0.053, 29.26), (93.09, 70.0, 0.001, 0.07),
                   (96.01, 159.0, 0.004, 0.58), (98.24, 162.0, 0.004, 0.58)),
    },
    "alexnet": {
        "table1": ((89.50, 200.52), (86.00, 153.42), (77.01, 26.06), (74.30, 0.46), (64.80, 0.23),
                   (78.00, 0.27)),
        "table2": ((77.01, 1802.0, 0.493, 888.00), (74.30, 1.7, 1.66, 2.82),
                   (64.80, 2.5, 1.06, 2.68), (78.00, 2.2, 1.24, 2.68)),
        # Table 3 (millions): synaptic ops, LIF ops, total; the QDSNN row is the paper's
        # upper bound (T=32, full pass), printed with "<=".
        "table3": ((200.52, None, 200.52), (26.06, 11.53, 37.59), (0.46, 1.44, 1.90),
                   (0.27, 7.37, 7.64)),
        # Table 4 (µJ): E_syn, E_LIF, E_comp, compute reduction (x); QDSNN as above.
        "table4": ((922.4, None, 922.4, 1.0), (0.78, 5.77, 6.55, 141.0), (0.014, 0.72, 0.73, 1264.0),
                   (0.008, 3.69, 3.70, 249.0)),
    },
}

_OTHER: dict[str, dict[str, Any]] = {
    # §3.4: share (%) of the exit-1 samples of QDSNN Cfg 0.6/0.7 that belong to a class.
    "alexnet": {"figure2_exit1_share": {
        "automobile": 11.4, "truck": 11.0, "frog": 11.0, "ship": 7.4, "airplane": 8.6,
    }},
}

PAPER: dict[str, dict[str, Any]] = {
    backbone: {**{table: dict(zip(_ROWS[table], values, strict=True)) for table, values in tables.items()},
               **_OTHER.get(backbone, {})}
    for backbone, tables in _PUBLISHED.items()
}
"""Published values of seed 001 by backbone: Table 1 (accuracy %, synaptic ops in millions),
Table 2 (accuracy %, time ms, power W, energy mJ), and for AlexNet Table 3 (M ops), Table 4
(µJ) and the exit-1 class shares of §3.4 (Figure 2)."""


def published_row(backbone: str, table: str, key: str) -> dict[str, Any] | None:
    """The paper's values of row ``key`` of ``table`` for ``backbone``, named by :data:`PAPER_FIELDS`.

    ``None`` when the paper publishes no such row (another backbone, or Tables
    3-4 outside AlexNet).
    """
    values = PAPER.get(backbone, {}).get(table, {}).get(key)
    if values is None:
        return None
    return dict(zip(PAPER_FIELDS[table], values, strict=True))
