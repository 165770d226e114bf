"""Reports: every table, figure and benchmark page the product writes.

``table1`` (the threshold rule and Table 1, shared with the pipeline's manifest),
``paper`` (``sparq report``: the paper's Tables 1-4 and Figures 1-2, with
``published``, ``timing``, ``exit_analysis``, ``markdown`` and ``figures``),
``energy_sweep`` (``sparq energy sweep``), ``backbone_stats`` (``sparq backbone
stats``) and ``bench_env`` (``sparq bench-env``).
"""
