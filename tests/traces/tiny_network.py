"""A tiny 3-layer MLP with two exits, shared by the extraction tests (counts worked by hand)."""

from __future__ import annotations

from sparq_gym.backbones.spec import BackboneSpec, ExitSpec, LayerSpec
from sparq_gym.traces import COUNTER_NAMES

K = {name: i for i, name in enumerate(COUNTER_NAMES)}
"""Counter name -> column."""


def _fc(fin: int, fout: int, name: str, bn: bool = True, **kw: object) -> LayerSpec:
    return LayerSpec("linear", fin, fout, batch_norm=bn, name=name, **kw)  # type: ignore[arg-type]


SPEC = BackboneSpec(
    name="tiny", dataset="mnist", input_shape=(1, 4, 4), num_classes=3,
    layers=(_fc(16, 8, "fc1", flatten_before=True), _fc(8, 6, "fc2"), _fc(6, 3, "fc3", bn=False)),
    exits=(ExitSpec(0, (_fc(8, 4, "h1"), _fc(4, 3, "h1o", bn=False)), name="exit1"),
           ExitSpec(1, (_fc(6, 4, "h2"), _fc(4, 3, "h2o", bn=False)), name="exit2")),
)
"""16 inputs, hidden 8 and 6, 3 classes; exit heads after fc1 and fc2."""
