"""The report as Markdown: Tables 1-4, the exit analysis, figure links and provenance.

:func:`format_report` renders a :func:`sparq_gym.reports.paper.build_report`
result; each section has its own function below, in the order they appear.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sparq_gym.reports.published import PAPER

__all__ = ["format_report"]


def _num(value: float | None, digits: int = 2, prefix: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{prefix}{value:,.{digits}f}"


def _ops(value: float | None) -> str:
    """An operation count in millions, 4 significant digits (0.5741, 0.004432, 200.5)."""
    if value is None:
        return "–"
    return "0" if value == 0 else f"{value / 1e6:.4g}"


def _paper(values: Mapping[str, Any] | None, key: str, digits: int = 2, le: bool = False) -> str:
    if values is None or values.get(key) is None:
        return "–"
    return ("≤" if le else "") + f"{values[key]:,.{digits}f}"


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _format_exit_cost(report: Mapping[str, Any]) -> str:
    """The "where the exits lose accuracy" section under Table 1."""
    qsnn = next((r["accuracy"] for r in report["table1"] if r["key"] == "qsnn"), None)
    out = ["\n### Where the early exits lose accuracy\n\n",
           "Per QDSNN configuration and early exit: the share of images that leave there, the "
           "accuracy on those images of that head and of the final head (what the QSNN answers "
           "for them), the head's mean confidence on them, and the points this costs "
           "(share × difference). The points of a configuration add up to QSNN − QDSNN.\n\n"]
    rows = []
    for cfg in report["exit_cost"]:
        for e in cfg["exits"]:
            rows.append([cfg["variant"], f"exit{e['exit'] + 1}", f"{e['share']:.3f}",
                         _num(e["head_accuracy"]), _num(e["final_accuracy"]),
                         _num(e["mean_confidence"], 3), _num(e["points_lost"])])
        if qsnn is not None:
            total = sum(e["points_lost"] for e in cfg["exits"])
            rows.append([cfg["variant"], "total", "", "", "", "",
                         f"{total:.2f} (QSNN {qsnn:.2f} − {cfg['accuracy']:.2f})"])
    out.append(_md_table(["variant", "exit", "share", "head acc. %", "final head acc. %",
                          "mean confidence", "points lost"], rows))
    return "".join(out)



def _format_table1(report: Mapping[str, Any]) -> str:
    """Table 1, the SNN-subset note and the exit analysis."""
    out = ["## Table 1: accuracy and synaptic operations\n\n",
           "Ops are MACs for the ANN rows and spike-triggered accumulates (synaptic ops) for "
           "the spiking rows, per test image, in millions, as in the paper's Table 1.\n\n"]
    rows = []
    for r in report["table1"]:
        p = r["paper"]
        fractions = " / ".join(f"{f:.3f}" for f in r["exit_fractions"])
        rows.append([r["variant"], _num(r["accuracy"]), _paper(p, "accuracy"), _ops(r["ops"]),
                     r["ops_counter"], _paper(p, "ops_m"), fractions])
    out.append(_md_table(["variant", "acc. %", "paper acc. %", "ops / image (M)", "ops kind",
                          "paper ops (M)", "exit fractions"], rows))
    subset = report.get("snn_subset")
    if subset:
        same = ", ".join(f"the {name.removesuffix('_final_accuracy').replace('_', ' ')} "
                         f"final head {value:.2f} %"
                         for name, value in subset.items() if name.endswith("_final_accuracy"))
        out.append(f"\nThe SNN rows cover {subset['n_samples']:,} images of the split only (the "
                   f"T=32 extraction was limited to a seeded random subset; their ops and energy "
                   f"below are means over those images); on those images: {same}.\n")
    if report.get("exit_cost"):
        out.append(_format_exit_cost(report))
    return "".join(out)


def _format_table2(report: Mapping[str, Any]) -> str:
    """Table 2 with where its times come from."""
    timing = report["timing"]
    system_model = report["energy_models"]["table2"]
    out = ["\n## Table 2: spiking variants — accuracy, time, power, energy\n\n"]
    source = timing.get("source")
    if source == "measured":
        how = (f"**measured on this CPU** ({timing.get('cpu')}, torch {timing.get('torch')}): "
               f"{timing.get('note')}. QDSNN time = the exit fractions times the measured time to "
               "reach each exit. The SNN row runs the shipped INT8 weights dequantized to float32.")
    elif source == "recorded":
        how = (f"**read from the pipeline's record** ({timing.get('cpu')}): {timing.get('note')}.")
    else:
        how = "not available (no weights, data or recorded times)."
    out.append(f"Time per image: {how} Energy per image under the `{system_model}` model "
               "(paper Eq. 4-9, memory included: every byte of weights, membrane potentials and "
               "spikes the traces count costs 80 pJ); power P = E / t. The paper does not say "
               "whether its times and energies are per image or per batch; ours are per image.\n\n")
    rows = []
    for r in report["table2"]:
        p = r["paper"]
        parts = r["energy_parts_uj"]
        mem_share = 100.0 * parts.get("memory", 0.0) / max(sum(parts.values()), 1e-30)
        rows.append([r["variant"], _num(r["accuracy"]), _paper(p, "accuracy"),
                     _num(r["time_ms"], 3), _paper(p, "time_ms", 1), _num(r["power_w"], 4),
                     _paper(p, "power_w", 3), _num(r["energy_mj"], 4), _paper(p, "energy_mj"),
                     f"{mem_share:.1f}"])
    out.append(_md_table(["variant", "acc. %", "paper", "time ms", "paper ms", "power W",
                          "paper W", "energy mJ", "paper mJ", "memory % of E"], rows))
    return "".join(out)


def _format_table3(report: Mapping[str, Any]) -> str:
    """Table 3: synaptic, LIF and total operations, first-layer MACs apart."""
    out = ["\n## Table 3: operation breakdown (per image)\n\n",
           "Total = synaptic ops + LIF ops for spiking rows (the paper's definition), MACs for "
           "the ANN. Our spiking networks are fed the analog image at every timestep (direct "
           "encoding), so their first layer costs MACs; they are listed apart and added in "
           "the last column. LIF ops = neurons evaluated × T × 2 (Eq. 9), our IF neurons "
           "included. The paper reports this table for AlexNet only; its QDSNN row is an "
           "upper bound (T=32, full pass), ours are measured at T=4 with the exits taken, "
           "plus the full pass through every head.\n\n"]
    out.append(_md_table(["variant", "synaptic ops (M)", "LIF ops (M)", "total (M)", "paper syn (M)",
                          "paper LIF (M)", "paper total (M)", "first-layer MACs (M)",
                          "total + MACs (M)"], [_table3_row(r) for r in report["table3"]]))
    return "".join(out)


def _table3_row(r: Mapping[str, Any]) -> list[str]:
    """One Table 3 row; the paper's QDSNN values are upper bounds ("≤")."""
    p = r["paper"]
    le = r["key"].startswith("qdsnn")
    return [r["variant"], _ops(r["synaptic_ops"] if r["key"] != "ann" else r["macs"]),
            _ops(r["lif_ops"]), _ops(r["total_ops"]),
            _paper(p, "synaptic_ops_m"), _paper(p, "lif_ops_m", le=le),
            _paper(p, "total_ops_m", le=le), _ops(r["macs"] if r["key"] != "ann" else 0),
            _ops(r["total_ops_with_macs"])]


def _format_table4(report: Mapping[str, Any]) -> str:
    """Table 4: compute energy and its reduction against the ANN."""
    compute_model = report["energy_models"]["table4"]
    out = ["\n## Table 4: compute energy (arithmetic only, per image)\n\n",
           f"`{compute_model}` model: E_MAC = 4.6 pJ (32-bit), E_AC = 0.03 pJ, LIF "
           "(decay + compare) = 1.0 pJ per neuron and step (Horowitz 45 nm, paper ref. [5]). "
           "E_syn is MACs × 4.6 pJ for the ANN and ACs × 0.03 pJ for the spiking rows; "
           "E_comp = E_syn + E_LIF (the paper's definition); reduction = E_ANN / E_comp. The "
           "last two columns add the first layer's MACs (priced at 4.6 pJ by the model, "
           "although the INT8 network's are 8-bit).\n\n"]
    out.append(_md_table(["variant", "E_syn µJ", "E_LIF µJ", "E_comp µJ", "reduction",
                          "paper E_syn", "paper E_LIF", "paper E_comp", "paper red.",
                          "E_comp + MACs µJ", "red. with MACs"], [_table4_row(r) for r in report["table4"]]))
    ann = report.get("ann_compute_energy_uj")
    out.append(f"\nANN compute energy (`ann_compute_energy_uj`): **{_num(ann, 2)} µJ** "
               f"= {_num(report.get('ann_macs'), 0)} MACs × 4.6 pJ"
               + (f" (backbone spec: {report['spec_macs']:,} MACs)" if report.get("spec_macs")
                  else "") + ".\n")
    if not PAPER.get(report["backbone"].lower(), {}).get("table3"):
        out.append("\nThe paper gives Tables 3 and 4 for AlexNet only; its columns are empty here.\n")
    return "".join(out)


def _table4_row(r: Mapping[str, Any]) -> list[str]:
    """One Table 4 row; the paper's QDSNN values are bounds ("≤" energy, "≥" reduction)."""
    p = r["paper"]
    le = r["key"].startswith("qdsnn")
    red = r["reduction"]
    return [r["variant"], _num(r["e_syn_uj"], 4), _num(r["e_lif_uj"], 4),
            _num(r["e_comp_uj"], 4), "–" if red is None else f"{red:,.1f}×",
            _paper(p, "e_syn_uj", 3), _paper(p, "e_lif_uj", le=le),
            _paper(p, "e_comp_uj", le=le),
            "–" if p is None else ("≥" if le else "") + f"{p['reduction']:,.0f}×",
            _num(r["e_comp_with_macs_uj"], 4),
            "–" if r["reduction_with_macs"] is None else f"{r['reduction_with_macs']:,.2f}×"]


def _format_figure2_table(fig2: Mapping[str, Any]) -> str:
    """Figure 2's numbers: class share per exit and exit share per class, and the paper's §3.4."""
    header = ["class", *(f"{e} share %" for e in fig2["exit_names"]),
              *(f"→ {e} %" for e in fig2["exit_names"])]
    rows = []
    composition = np.asarray(fig2["composition_pct"])  # (E, C)
    class_exit = np.asarray(fig2["class_exit_pct"])  # (C, E)
    for c, name in enumerate(fig2["class_names"]):
        rows.append([name, *(f"{composition[e, c]:.1f}" for e in range(composition.shape[0])),
                     *(f"{class_exit[c, e]:.1f}" for e in range(class_exit.shape[1]))])
    out = ["\n\"share\": the class's share of the samples that leave at that exit (the "
           "paper's §3.4 numbers, e.g. 11.4 % of AlexNet's exit-1 samples are "
           "automobiles); \"→\": the fraction of the class's samples that leave there.\n\n",
           _md_table(header, rows)]
    paper_share = fig2.get("paper_exit1_share_pct")
    if paper_share:
        names = fig2["class_names"]
        pairs = []
        for name, value in paper_share.items():
            ours = (f"{composition[0, names.index(name)]:.1f}" if name in names else "–")
            pairs.append([name, f"{value:.1f}", ours])
        out.append("\nPaper §3.4, exit-1 share (%):\n\n")
        out.append(_md_table(["class", "paper", "ours"], pairs))
    return "".join(out)


def _format_figures(report: Mapping[str, Any], figure_names: Sequence[str]) -> str:
    """Links to Figures 1 and 2, and Figure 2's numbers."""
    fig2 = report.get("figure2")
    out = ["\n## Figure 1: operations per variant\n\n"]
    if figure_names:
        out.append(f"![operations per variant]({figure_names[0]})\n")
    if fig2 is not None:
        out.append(f"\n## Figure 2: class distribution across exits, {fig2['variant']}\n\n")
        if len(figure_names) > 1:
            out.append(f"![class distribution across exits]({figure_names[1]})\n")
        out.append(_format_figure2_table(fig2))
    return "".join(out)


def _format_provenance(report: Mapping[str, Any]) -> str:
    """Where the traces come from: folders, sha256, pipeline commands and software versions."""
    out = ["\n## Provenance\n\n"]
    for network, src in report["sources"].items():
        sha = (src.get("sha256") or "")[:16]
        out.append(f"- `{network}`: {src.get('description')}; {src['n_samples']} samples, "
                   f"T={src.get('timesteps')}, {src.get('precision')}, sha256 {sha}…\n")
    for command in report.get("commands", []):
        out.append(f"- pipeline: `{command}`\n")
    software = report.get("software") or {}
    if software:
        out.append("- software: " + ", ".join(f"{k} {v}" for k, v in sorted(software.items()))
                   + "\n")
    return "".join(out)


def format_report(report: Mapping[str, Any], figure_names: Sequence[str] = ()) -> str:
    """Render a :func:`~sparq_gym.reports.paper.build_report` result as Markdown (tables, notes, figures)."""
    b = report["backbone"]
    out: list[str] = [
        f"# SPARQ paper tables for `{b}` ({report.get('dataset') or '?'}), measured\n\n",
        f"Generated by `sparq report {b}` from the `{report['split']}` traces under "
        f"`pretrained/{b}/`; do not edit by hand. Paper values: {report['paper_source']} "
        "(`shared/seeds/001_*.txt`).\n\n",
    ]
    if report.get("data_note"):
        out.append(f"Data: {report['data_note']}.\n\n")
    out += [_format_table1(report), _format_table2(report), _format_table3(report),
            _format_table4(report), _format_figures(report, figure_names), _format_provenance(report)]
    return "".join(out)
