"""Tests of sparq_gym.energy and ``sparq energy sweep``: hand-worked joules and break-even rates."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sparq_gym.energy import (
    DATAFLOW_PRESETS,
    ENERGY_MODEL_NAMES,
    break_even_spike_rate,
    energy_ratio,
    get_energy_model,
    get_preset,
    qnn_activation_bits,
    qnn_neuron_energy,
    snn_neuron_energy,
    twin_qnn_sparsity,
)
from sparq_gym.traces import COUNTER_NAMES, make_synthetic_traces

NAMES = list(COUNTER_NAMES)  # macs, synaptic_ops, spikes, lif_ops, mem_bytes


def _counts(macs: int = 0, syn: int = 0, spikes: int = 0, lif: int = 0, mem: int = 0) -> np.ndarray:
    return np.array([macs, syn, spikes, lif, mem], dtype=np.int64)


# -- sparq model (seed 001 Eq. 4-9) --------------------------------------------
def test_alexnet_ann_compute_energy_is_922_37_uj() -> None:
    # 200,515,584 MACs x 4.6 pJ = 922,371,686.4 pJ = 922.3717 uJ (paper Table 4: 922.4 uJ)
    energy = get_energy_model("sparq").energy_joules(_counts(macs=200_515_584), NAMES, {})
    assert energy.shape == ()
    assert float(energy) * 1e6 == pytest.approx(922.37, abs=0.01)


def test_alexnet_qsnn_lif_energy_matches_table_4() -> None:
    # 1,441,872 LIF ops (T=4) -> 720,936 neuron-steps x (0.9 + 0.1) pJ = 0.720936 uJ (Table 4: 0.72)
    parts = get_energy_model("sparq").breakdown(_counts(lif=1_441_872), NAMES, {})
    assert float(parts["lif"]) * 1e6 == pytest.approx(0.720936, abs=1e-9)


def test_sparq_parts_of_a_hand_made_count_vector() -> None:
    counts = _counts(macs=1000, syn=20_000, spikes=500, lif=3000, mem=250)
    parts = get_energy_model("sparq").breakdown(counts, NAMES, {})
    assert float(parts["mac"]) == pytest.approx(4600e-12)  # 1000 x 4.6 pJ
    assert float(parts["synaptic"]) == pytest.approx(600e-12)  # 20000 x 0.03 pJ
    assert float(parts["lif"]) == pytest.approx(1500e-12)  # 3000/2 x (0.9 + 0.1) pJ
    assert float(parts["memory"]) == pytest.approx(20_000e-12)  # 250 B x 80 pJ
    total = get_energy_model("sparq").energy_joules(counts, NAMES, {})
    assert float(total) == pytest.approx(26_700e-12)
    compute_only = get_energy_model("sparq-compute").energy_joules(counts, NAMES, {})
    assert float(compute_only) == pytest.approx(6_700e-12)


def test_energy_is_vectorised_over_leading_axes() -> None:
    traces = make_synthetic_traces(12, n_exits=3, seed=1)
    for name in ENERGY_MODEL_NAMES:
        model = get_energy_model(name)
        per_exit = model.energy_joules(traces.exit_counts, traces.counter_names, traces.meta)
        full = model.energy_joules(traces.full_counts, traces.counter_names, traces.meta)
        assert per_exit.shape == (12, 3) and full.shape == (12,)
        single = model.energy_joules(traces.exit_counts[5, 2], traces.counter_names, traces.meta)
        assert float(single) == pytest.approx(float(per_exit[5, 2]))


def test_counter_order_follows_counter_names() -> None:
    order = ["mem_bytes", "lif_ops", "spikes", "synaptic_ops", "macs"]
    counts = np.array([250, 3000, 500, 20_000, 1000])
    energy = get_energy_model("sparq").energy_joules(counts, order, {})
    assert float(energy) == pytest.approx(26_700e-12)


# -- dataflow model (seed 003) ---------------------------------------------------
def test_dataflow_typical_prices_hand_made_counts() -> None:
    # typical-neuromorphic, 8-bit weights, 8-bit MAC inputs, 1 hop, no reuse:
    #   mac      100 x (0.2 + 0.03)                     =   23.0 pJ
    #   synaptic 1000 x 0.03                            =   30.0 pJ
    #   neuron   40/2 x (0.2 + 0.03)                    =    4.6 pJ
    #   weights  (100 + 1000) x 8 bit x 10/64 pJ/bit    = 1375.0 pJ
    #   movement 100 x 8 bit x 0.1 + 1000 x 1 bit x 3.5 = 3580.0 pJ
    counts = _counts(macs=100, syn=1000, spikes=77, lif=40, mem=999)
    parts = get_energy_model("dataflow-typical").breakdown(counts, NAMES, {})
    expected = {"mac": 23.0, "synaptic": 30.0, "neuron": 4.6, "weight_access": 1375.0,
                "movement": 3580.0}
    for key, pj in expected.items():
        assert float(parts[key]) == pytest.approx(pj * 1e-12), key
    total = get_energy_model("dataflow-typical-neuromorphic").energy_joules(counts, NAMES, {})
    assert float(total) == pytest.approx(5012.6e-12)


def test_dataflow_reads_weight_bits_from_meta() -> None:
    # 4-bit weights, theoretical-minimum, 10 synaptic ops:
    # add 0.03*4/8 = 0.015 pJ, weight read 4 x 10/64 = 0.625 pJ, no movement
    counts = _counts(syn=10)
    energy = get_energy_model("dataflow-theoretical-minimum").energy_joules(
        counts, NAMES, {"weight_bits": 4}
    )
    assert float(energy) == pytest.approx(10 * (0.015 + 0.625) * 1e-12)


def test_qnn_activation_bits() -> None:
    assert [qnn_activation_bits(t) for t in (1, 2, 3, 4, 7, 8, 15, 16, 32)] == [
        1, 2, 2, 3, 3, 4, 4, 5, 6
    ]
    with pytest.raises(ValueError, match="timesteps"):
        qnn_activation_bits(0)


def test_neuron_energies_by_hand_typical_t4() -> None:
    # QNN, 80 % sparse, 3-bit: compute 0.2*4096*0.23 + 0.03 = 188.446; sparse data
    # 819.2*(1.25 + 3*3.5) = 9625.6 > dense 4096*(1.25 + 3*0.1) = 6348.8 -> dense
    qnn = qnn_neuron_energy("typical-neuromorphic", 4, 0.8)
    assert bool(qnn.dense)
    assert float(qnn.total_pj) == pytest.approx(188.446 + 6348.8)
    # SNN at 10 %: events 4*0.1*4096 = 1638.4; compute 1638.4*0.03 + 4*2*0.03 = 49.392;
    # sparse data 1638.4*(1.25 + 3.5) = 7782.4 < dense 4*4096*(1.25 + 0.1) = 22118.4
    snn = snn_neuron_energy("typical", 4, 0.1)
    assert not bool(snn.dense)
    assert float(snn.total_pj) == pytest.approx(49.392 + 7782.4)


def test_break_even_typical_neuromorphic_t4_by_hand() -> None:
    # Hand calculation (pJ, per output neuron, N = 4096, QNN sparsity 0.8, 3-bit QNN):
    #   E_QNN = 0.2*4096*0.23 + 0.03 + 4096*(8*10/64 + 3*0.1)        = 6537.246   (dense wins)
    #   E_SNN(r) = 4*r*4096*(0.03 + 1.25 + 3.5) + 4*2*0.03             = 78315.52 r + 0.24
    #   break-even: r = (6537.246 - 0.24) / 78315.52                    = 0.0834698...
    hand = (6537.246 - 0.24) / 78315.52
    rate = break_even_spike_rate("typical-neuromorphic", 4)
    assert rate == pytest.approx(hand, rel=1e-9)
    assert rate == pytest.approx(0.08347, abs=1e-5)
    assert float(energy_ratio("typical", 4, rate)) == pytest.approx(1.0, abs=1e-9)


def test_break_even_other_presets_by_hand() -> None:
    # theoretical-minimum, T=4: E_QNN = 188.446 + min(819.2, 4096)*1.25 = 1212.446;
    #   E_SNN = 4*r*4096*(0.03 + 1.25) + 0.24 -> r = 1212.206 / 20971.52
    assert break_even_spike_rate("theoretical-minimum", 4) == pytest.approx(
        1212.206 / 20971.52, rel=1e-9
    )
    # worst-case-sparse, T=4: E_QNN = 188.446 + 4096*(1.25 + 3*1300/64)
    #   E_SNN = 4*r*4096*(0.03 + 1.25 + 1300) + 0.24
    qnn = 188.446 + 4096 * (1.25 + 3 * 1300 / 64)
    assert break_even_spike_rate("worst-case-sparse", 4) == pytest.approx(
        (qnn - 0.24) / (4 * 4096 * 1301.28), rel=1e-9
    )


def test_break_even_falls_with_t_under_typical_hardware() -> None:
    rates = [break_even_spike_rate("typical", t) for t in (2, 4, 8, 16)]
    assert rates == sorted(rates, reverse=True)


def test_twin_sparsity_cases() -> None:
    # spike rate 5 %, T=4: best-case twin density 0.2, average 2*4*0.05/5 = 0.08, worst 0.05
    got = [float(twin_qnn_sparsity(0.05, 4, c)) for c in ("best", "average", "worst")]
    assert got == pytest.approx([0.8, 0.92, 0.95])
    assert math.isnan(float(twin_qnn_sparsity(0.5, 4, "best")))  # density 2 > 1: no twin
    with pytest.raises(ValueError, match="best"):
        twin_qnn_sparsity(0.1, 4, "typical")


# -- registry ------------------------------------------------------------------------
def test_registry_names_and_alias() -> None:
    for name in ("sparq", "sparq-compute", "dataflow-theoretical-minimum", "dataflow-typical",
                 "dataflow-typical-neuromorphic", "dataflow-worst-case-sparse"):
        assert name in ENERGY_MODEL_NAMES
        assert get_energy_model(name).name == name
    assert get_preset("dataflow-typical") is DATAFLOW_PRESETS["typical-neuromorphic"]


def test_unknown_energy_model_lists_known_names() -> None:
    with pytest.raises(ValueError, match="unknown energy model 'joules'") as err:
        get_energy_model("joules")
    for name in ENERGY_MODEL_NAMES:
        assert name in str(err.value)
    with pytest.raises(ValueError, match="typical-neuromorphic"):
        get_preset("loihi")


def test_bad_counts_raise_clear_errors() -> None:
    model = get_energy_model("sparq")
    with pytest.raises(ValueError, match="last axis"):
        model.energy_joules(np.zeros((3, 4)), NAMES, {})
    with pytest.raises(ValueError, match="mem_bytes"):
        model.energy_joules(np.zeros(3), ["macs", "synaptic_ops", "lif_ops"], {})


def test_environment_cost_resolution_uses_the_registry() -> None:
    costs = pytest.importorskip("sparq_gym.envs.costs")
    traces = make_synthetic_traces(6, seed=2)
    exit_cost, full_cost = costs.resolve_cost(traces, "energy:dataflow-typical")
    expected = get_energy_model("dataflow-typical").energy_joules(
        traces.full_counts, traces.counter_names, traces.meta
    )
    assert exit_cost.shape == (6, 3)
    np.testing.assert_allclose(full_cost, expected)


# -- command -------------------------------------------------------------------------
def test_sweep_command_writes_json_text_and_png(tmp_path, capsys) -> None:
    from sparq_gym.energy_commands import main

    assert main(["energy", "sweep", "--json", "--timesteps", "4", "--out", str(tmp_path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    on_disk = json.loads((tmp_path / "energy_sweep.json").read_text())
    rate = on_disk["presets"]["typical-neuromorphic"]["break_even"]["4"]
    assert rate == pytest.approx((6537.246 - 0.24) / 78315.52, rel=1e-9)
    assert printed["presets"]["typical-neuromorphic"]["break_even"]["4"] == pytest.approx(rate)
    assert (tmp_path / "energy_sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Break-even spike rate" in (tmp_path / "energy_sweep.txt").read_text()


# --- Calibration against seed 003's Table II (VGG16 / CIFAR-10, §IV-D) -------------------------
# Per T: QNN density %, SNN spike rate %, E_SNN pJ, E_QNN pJ, published ratio E_SNN / E_QNN.
SEED003_TABLE2 = {
    3: (12.22, 5.49, 1204.72, 1226.38, 0.9823),
    4: (16.52, 6.43, 1881.21, 1839.32, 1.0228),
    5: (19.89, 7.10, 2596.45, 1847.54, 1.4054),
    6: (22.98, 7.73, 3392.12, 1855.07, 1.8286),
    7: (25.45, 8.19, 4192.91, 1861.09, 2.2529),
    8: (27.39, 8.52, 4880.81, 2474.34, 1.9726),
}


def _table2_ratios(hardware, spatial_reuse: float, fan_in: int = 2304) -> dict[int, float]:
    """Our SNN/QNN ratio at Table II's densities: h = 1, R_q = spatial reuse, R_s = R_q * T."""
    from dataclasses import replace

    out = {}
    for t, (density, rate, *_rest) in SEED003_TABLE2.items():
        hw = replace(hardware, hops=1.0, weight_reuse_qnn=spatial_reuse,
                     weight_reuse_snn=spatial_reuse * t)
        out[t] = float(energy_ratio(hw, t, rate / 100, qnn_sparsity=1 - density / 100,
                                    fan_in=fan_in))
    return out


def test_seed003_table2_is_internally_what_the_model_says() -> None:
    # The published SNN energies are proportional to T * rate for T = 3..7 (sparse events,
    # 7,314 pJ per unit of T * rate) and fall below that line at T = 8 (dense transfer).
    per_event = {t: e_snn / (t * rate / 100) for t, (_, rate, e_snn, _, _) in SEED003_TABLE2.items()}
    for t in range(3, 8):
        assert per_event[t] == pytest.approx(7314.0, rel=2e-4)
    assert per_event[8] < 0.98 * 7314.0
    for _, _, e_snn, e_qnn, ratio in SEED003_TABLE2.values():
        assert e_snn / e_qnn == pytest.approx(ratio, abs=1e-4)


def test_typical_preset_misses_seed003_table2_with_assumed_dense_cost() -> None:
    # With e_dense = 0.1 pJ/bit (assumed) our typical preset puts T = 3 on the QNN's side
    # (1.34 vs the published 0.98) and is off by up to 36 %: the dense cost is too low.
    ratios = _table2_ratios(get_preset("typical-neuromorphic"), spatial_reuse=1024)
    assert ratios[3] == pytest.approx(1.335, abs=0.01)
    worst = max(abs(ratios[t] / row[4] - 1) for t, row in SEED003_TABLE2.items())
    assert worst > 0.3


def test_calibrated_dense_and_weight_costs_reproduce_seed003() -> None:
    from dataclasses import replace

    # Proposed calibration (docs/energy.md): e_dense = 0.29 pJ/bit/hop, E_w = 0.13 pJ per
    # 8-bit weight, e_sparse = 3.5 pJ/bit/hop unchanged.
    calibrated = replace(get_preset("typical-neuromorphic"), dense_pj_per_bit=0.29,
                         weight_read_pj_per_bit=0.13 / 8)
    ratios = _table2_ratios(calibrated, spatial_reuse=1024)
    for t, row in SEED003_TABLE2.items():
        assert ratios[t] == pytest.approx(row[4], rel=0.04), t
    assert ratios[3] < 1.0 < ratios[5]  # the SNN wins at T = 3 and loses from T = 5 on
    # The fan-in cancels in the ratio.
    assert _table2_ratios(calibrated, 1024, fan_in=4608)[5] == pytest.approx(ratios[5], rel=1e-3)
    # The SNN switches from sparse to dense transfer between T = 7 and T = 8, as the table shows.
    hw7 = replace(calibrated, weight_reuse_qnn=1024, weight_reuse_snn=1024 * 7)
    hw8 = replace(calibrated, weight_reuse_qnn=1024, weight_reuse_snn=1024 * 8)
    assert not bool(snn_neuron_energy(hw7, 7, 0.0819, 2304).dense)
    assert bool(snn_neuron_energy(hw8, 8, 0.0852, 2304).dense)
    # §IV-B (no reuse, QNN sparsity 0.8): break-even 5.7 % at T = 5 (seed v4) and the
    # T = 7 -> 8 rise caused by the QNN's 3 -> 4 bit step. By hand at T = 5 (3-bit QNN, dense):
    # (0.13 + 3 * 0.29 + 0.2 * 0.23 - 0.27 / 4096) / (5 * (0.03 + 0.13 + 3.5)) = 0.05716.
    assert break_even_spike_rate(calibrated, 5) == pytest.approx(0.05716, abs=2e-4)
    assert break_even_spike_rate(calibrated, 8) > break_even_spike_rate(calibrated, 7)
