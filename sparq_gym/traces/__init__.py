"""Traces: what the environments replay (spec §4).

:mod:`sparq_gym.traces.traceset` is the on-disk format (numpy only);
:mod:`sparq_gym.traces.counters` counts operations on a running network and
:mod:`sparq_gym.traces.extract` runs a backbone over a split to write traces
(both need torch and are imported on their own).
"""

from sparq_gym.traces import traceset
from sparq_gym.traces.traceset import (
    COUNTER_NAMES as COUNTER_NAMES,
)
from sparq_gym.traces.traceset import (
    SCHEMA_VERSION as SCHEMA_VERSION,
)
from sparq_gym.traces.traceset import (
    SPLITS as SPLITS,
)
from sparq_gym.traces.traceset import (
    TraceError as TraceError,
)
from sparq_gym.traces.traceset import (
    TraceSet as TraceSet,
)
from sparq_gym.traces.traceset import (
    load_manifest as load_manifest,
)
from sparq_gym.traces.traceset import (
    make_synthetic_traces as make_synthetic_traces,
)

__all__ = list(traceset.__all__)
