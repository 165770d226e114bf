"""The registered SPARQ environments with their shipped traces: what ``sparq envs`` lists."""

from __future__ import annotations

from typing import Any

__all__ = ["describe_envs", "format_env_list"]


def describe_envs() -> list[dict[str, Any]]:
    """One record per registered id, family after family: family, backbone, dataset, exits,
    accuracies (at T for depth x time) and trace status; the generic ids take ``trace_dir``."""
    from sparq_gym.envs.families import FAMILIES
    from sparq_gym.envs.registration import MO_PREFIX
    from sparq_gym.traces import load_manifest

    rows = []
    for family in FAMILIES:
        for entry in family.table:
            directory = family.shipped_dir(entry.backbone, "qdsnn")
            row: dict[str, Any] = {
                "id": entry.env_id,
                "family": family.name,
                "backbone": entry.backbone,
                "dataset": entry.dataset,
            }
            if (directory / "manifest.json").exists():
                manifest = load_manifest(directory)
                row["exits"] = manifest.get("exit_names")
                row["timesteps"] = manifest.get("timesteps")
                row["splits"] = {
                    split: {"n_samples": s["n_samples"], "accuracy_per_exit": s["accuracy_per_exit"]}
                    for split, s in manifest.get("splits", {}).items()
                }
                row["traces"] = str(directory)
            else:
                row["exits"] = None
                row["traces"] = f"missing: build with `sparq backbone pipeline {entry.backbone}`"
            rows.append(row)
        rows.append(
            {
                "id": family.generic_id,
                "family": family.name,
                "backbone": None,
                "dataset": None,
                "exits": None,
                "traces": "yours: trace_dir=PATH (--trace-dir)",
            }
        )
    for row in [r for r in rows if r["family"] == "exit" and r["backbone"]]:
        rows.append({**row, "id": MO_PREFIX + row["id"], "family": "exit (vector reward)"})
    return rows


def format_env_list(rows: list[dict[str, Any]]) -> str:
    """The text ``sparq envs`` prints: one line per id with its test accuracy per exit."""
    lines = [f"{'id':27s} {'family':20s} {'backbone':9s} {'dataset':9s} exits / test accuracy per exit"]
    for row in rows:
        if row["exits"] is None:
            detail = row["traces"]
        else:
            test = row["splits"].get("test", {})
            accs = test.get("accuracy_per_exit", [])
            detail = ", ".join(f"{n} {100 * a:.2f}%" for n, a in zip(row["exits"], accs))
            if row.get("timesteps") and row["family"] == "depth_time":
                detail += f" (T = {row['timesteps']})"
        lines.append(
            f"{row['id']:27s} {row['family']:20s} {row['backbone'] or '-':9s} "
            f"{row['dataset'] or '-':9s} {detail}"
        )
    return "\n".join(lines)
