"""The registered SPARQ environments with their shipped traces: what ``sparq envs`` lists."""

from __future__ import annotations

from typing import Any

__all__ = ["describe_envs", "format_env_list"]


def describe_envs() -> list[dict[str, Any]]:
    """One record per registered backbone id: backbone, dataset, exits, accuracies, trace status."""
    from sparq_gym.envs.registration import ENV_TABLE
    from sparq_gym.paths import trace_dir
    from sparq_gym.traces import load_manifest

    rows = []
    for entry in ENV_TABLE:
        directory = trace_dir(entry.backbone)
        row: dict[str, Any] = {
            "id": entry.env_id,
            "backbone": entry.backbone,
            "dataset": entry.dataset,
        }
        if (directory / "manifest.json").exists():
            manifest = load_manifest(directory)
            row["exits"] = manifest.get("exit_names")
            row["splits"] = {
                split: {"n_samples": s["n_samples"], "accuracy_per_exit": s["accuracy_per_exit"]}
                for split, s in manifest.get("splits", {}).items()
            }
            row["traces"] = str(directory)
        else:
            row["exits"] = None
            row["traces"] = f"missing: build with `sparq backbone pipeline {entry.backbone}`"
        rows.append(row)
    return rows


def format_env_list(rows: list[dict[str, Any]]) -> str:
    """The text ``sparq envs`` prints: one line per id with its test accuracy per exit."""
    lines = [f"{'id':24s} {'backbone':9s} {'dataset':9s} exits / test accuracy per exit"]
    for row in rows:
        if row["exits"] is None:
            detail = row["traces"]
        else:
            test = row["splits"].get("test", {})
            accs = test.get("accuracy_per_exit", [])
            detail = ", ".join(f"{n} {100 * a:.2f}%" for n, a in zip(row["exits"], accs))
        lines.append(f"{row['id']:24s} {row['backbone']:9s} {row['dataset']:9s} {detail}")
    return "\n".join(lines)
