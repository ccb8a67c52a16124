"""TransNAS-Bench-101 micro and macro spaces: strings, order, moves, decisions, encodings."""
import csv
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasframe.core.space import Buildable, Enumerable, Mutable, Relaxable, Sequential
from nasframe.errors import ArchitectureError, ConfigError
from nasframe.spaces.transnas import (MacroArch, MicroArch, TransNASMacroSpace, TransNASMicroSpace,
                                      macro_violation, resolve_task)

MICRO = TransNASMicroSpace()
MACRO = TransNASMacroSpace()
micro_index = st.integers(0, len(MICRO) - 1)
macro_index = st.integers(0, 3255)
seeds = st.integers(0, 2**32 - 1)


def test_both_spaces_offer_every_capability():
    for space in (MICRO, MACRO):
        for cap in (Enumerable, Mutable, Sequential, Relaxable, Buildable):
            assert isinstance(space, cap)


def test_task_names_resolve_and_unknown_task_lists_all_seven():
    assert resolve_task("Class-Scene") == "class_scene"
    with pytest.raises(ConfigError) as e:
        resolve_task("cifar10")
    for t in ("class_object", "class_scene", "room_layout", "jigsaw", "autoencoder", "normal", "segmentsemantic"):
        assert t in str(e.value)


# ---------------------------------------------------------------- micro


def test_micro_string_order_and_size():
    assert len(MICRO) == 4096
    assert str(MICRO[0]) == "64-41414-0_00_000"
    assert str(MICRO[1]) == "64-41414-0_00_001"
    assert str(MICRO[4095]) == "64-41414-3_33_333"
    # product order: index = base-4 number abcdef
    a = MICRO.parse("64-41414-1_02_303")
    assert a.ops == (1, 0, 2, 3, 0, 3)
    assert MICRO.index(a) == int("102303", 4)
    assert [MICRO.index(x) for x in MICRO] == list(range(4096))


@pytest.mark.parametrize("text, token", [
    ("64-41414-4_00_000", "4_00_000"), ("64-41414-0_000_00", "0_000_00"), ("32-41414-0_00_000", "32"),
    ("64-4141-0_00_000", "4141"), ("64-1234-basic", "1234"), ("64-41414", "64-41414"), ("", "")])
def test_micro_parse_errors_name_the_bad_token(text, token):
    with pytest.raises(ArchitectureError) as e:
        MICRO.parse(text)
    assert f"'{token}'" in str(e.value)


@given(micro_index)
def test_micro_parse_str_round_trip(i):
    a = MICRO[i]
    assert MICRO.parse(str(a)) == a and MICRO.index(a) == i


@given(seeds)
def test_micro_sample_and_mutate_stay_in_space(seed):
    rng = np.random.default_rng(seed)
    a = MICRO.sample(rng)
    b = MICRO.mutate(a, rng)
    assert a in MICRO and b in MICRO
    assert sum(x != y for x, y in zip(a.ops, b.ops)) == 1  # exactly one edge changes its op


def test_micro_neighbors_are_the_18_one_edge_changes():
    a = MICRO.parse("64-41414-3_13_302")
    nb = MICRO.neighbors(a)
    assert len(nb) == len(set(nb)) == 18 and a not in nb
    assert all(sum(x != y for x, y in zip(a.ops, b.ops)) == 1 for b in nb)


def test_micro_decisions():
    ds = MICRO.decisions()
    assert len(ds) == 6 and all(len(d.options) == 4 for d in ds)
    a = MICRO.from_decisions([3, 1, 3, 3, 0, 2])
    assert str(a) == "64-41414-3_13_302" and MICRO.to_decisions(a) == [3, 1, 3, 3, 0, 2]
    for bad in ([0] * 5, [0, 0, 0, 0, 0, 4], [-1, 0, 0, 0, 0, 0]):
        with pytest.raises(ArchitectureError):
            MICRO.from_decisions(bad)


@given(micro_index, st.lists(st.floats(-1e6, 1e6), min_size=24, max_size=24))
def test_micro_project_inverts_encode_and_takes_row_argmax(i, values):
    a = MICRO[i]
    assert MICRO.project(MICRO.encode(a)) == a
    x = np.array(values).reshape(6, 4)
    assert MICRO.project(x).ops == tuple(int(j) for j in x.argmax(axis=1))


def test_micro_project_rejects_bad_shapes_and_nan():
    with pytest.raises(ArchitectureError):
        MICRO.project(np.zeros((6, 5)))
    x = np.zeros((6, 4))
    x[0, 0] = np.nan
    with pytest.raises(ArchitectureError):
        MICRO.project(x)


@pytest.mark.data
def test_micro_order_is_the_row_order_of_the_shared_csv(shared_data):
    with open(shared_data / "transnasbench101" / "tnb101_micro_final_val.csv", newline="") as f:
        rows = [r["arch_str"] for r in csv.DictReader(f)]
    assert rows == [str(a) for a in MICRO]


# ---------------------------------------------------------------- macro


def test_macro_enumeration_is_exactly_the_3256_valid_backbones():
    strings = [str(a) for a in MACRO]
    assert len(MACRO) == len(set(strings)) == 3256
    brute = {f"64-{''.join(map(str, c))}-basic" for n in (4, 5, 6) for c in itertools.product((1, 2, 3, 4), repeat=n)
             if 1 <= sum(m in (3, 4) for m in c) <= 4 and 1 <= sum(m in (2, 4) for m in c) <= 3}
    assert set(strings) == brute
    assert all(MACRO.parse(s) == a and MACRO.index(a) == i for i, (s, a) in enumerate(zip(strings, MACRO)))
    assert strings[0] == "64-1114-basic"  # by length, then by code
    assert [len(a.modules) for a in MACRO] == sorted(len(a.modules) for a in MACRO)


@pytest.mark.parametrize("text, token, why", [
    ("64-11111-basic", "11111", "downsamples 0 times"),
    ("64-113333-basic", "113333", "doubles the channels 0 times"),
    ("64-444411-basic", "444411", "doubles the channels 4 times"),
    ("64-333334-basic", "333334", "downsamples 6 times"),
    ("64-124-basic", "124", "3 modules"),
    ("64-1234567-basic", "1234567", "module codes"),
    ("64-12a4-basic", "12a4", "module codes"),
    ("64-1234-0_00_000", "0_00_000", "basic"),
    ("128-1234-basic", "128", "64"),
])
def test_macro_parse_errors_name_the_bad_token_and_reason(text, token, why):
    with pytest.raises(ArchitectureError) as e:
        MACRO.parse(text)
    assert f"'{token}'" in str(e.value) and why in str(e.value)


def _edit_distance_one(a, b):
    a, b = a.modules, b.modules
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    short, long_ = sorted((a, b), key=len)
    return len(long_) == len(short) + 1 and any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


@settings(max_examples=200)
@given(macro_index, seeds)
def test_macro_mutation_is_one_valid_add_delete_or_change(i, seed):
    a = MACRO[i]
    b = MACRO.mutate(a, np.random.default_rng(seed))
    assert b in MACRO and b != a and _edit_distance_one(a, b)


@given(macro_index)
def test_macro_neighbors_are_valid_and_one_edit_away(i):
    a = MACRO[i]
    nb = MACRO.neighbors(a)
    assert nb and len(nb) == len(set(nb)) and a not in nb
    assert all(b in MACRO and _edit_distance_one(a, b) for b in nb)


def test_macro_mutation_uses_all_three_move_kinds():
    a = MACRO.parse("64-12341-basic")
    rng = np.random.default_rng(0)
    lengths = {len(MACRO.mutate(a, rng).modules) for _ in range(200)}
    assert lengths == {4, 5, 6}


@given(seeds)
def test_macro_sample_is_in_space(seed):
    assert MACRO.sample(np.random.default_rng(seed)) in MACRO


def test_macro_decisions_layout():
    ds = MACRO.decisions()
    assert len(ds) == 6
    assert [len(d.options) for d in ds] == [4, 4, 4, 4, 5, 5] and ds[4].options[0] == "end"


@given(macro_index)
def test_macro_decisions_round_trip(i):
    a = MACRO[i]
    assert MACRO.from_decisions(MACRO.to_decisions(a)) == a


@settings(max_examples=200)
@given(st.lists(st.integers(0, 3), min_size=4, max_size=4), st.lists(st.integers(0, 4), min_size=2, max_size=2))
def test_every_macro_decision_list_decodes_or_is_rejected_with_a_reason(head, tail):
    choices = head + tail
    try:
        a = MACRO.from_decisions(choices)
    except ArchitectureError as e:
        assert "not in the space" in str(e)
        modules = [c + 1 for c in head]
        for c in tail:
            if c == 0:
                break
            modules.append(c)
        assert macro_violation(modules) is not None
    else:
        assert a in MACRO


def test_macro_decoding_ignores_positions_after_end_and_rejects_out_of_range():
    assert str(MACRO.from_decisions([0, 1, 2, 3, 0, 4])) == "64-1234-basic"
    for bad in ([0, 1, 2, 3, 0], [0, 1, 2, 4, 0, 0], [0, 1, 2, 3, 5, 0]):
        with pytest.raises(ArchitectureError):
            MACRO.from_decisions(bad)


@given(macro_index)
def test_macro_project_inverts_encode(i):
    a = MACRO[i]
    x = MACRO.encode(a)
    assert x.shape == (6, 5) and x.sum() == 6
    assert MACRO.project(x) == a


@settings(max_examples=100)
@given(st.lists(st.floats(-1e6, 1e6), min_size=30, max_size=30))
def test_macro_project_returns_a_valid_backbone_for_any_real_matrix(values):
    x = np.array(values).reshape(6, 5)
    a = MACRO.project(x)
    assert a in MACRO
    best = max(float((MACRO.encode(b) * x).sum()) for b in MACRO.neighbors(a))
    score = float((MACRO.encode(a) * x).sum())
    assert score >= best - 1e-9 * max(1.0, abs(best))  # no neighbour scores higher


def test_macro_project_repairs_an_invalid_one_hot_to_the_nearest_backbone():
    # 111111 neither downsamples nor widens: the nearest fix changes one module to 4
    x = np.zeros((6, 5))
    x[np.arange(6), 1] = 1
    assert sorted(MACRO.project(x).modules) == [1, 1, 1, 1, 1, 4]
    # rows past an "end" do not matter once the row-wise argmax is valid
    y = MACRO.encode(MACRO.parse("64-1234-basic"))
    y[5] = [0, 0, 0, 0, 0.5]
    assert str(MACRO.project(y)) == "64-1234-basic"


def test_membership_rejects_foreign_values():
    assert MacroArch((1, 1, 1, 1)) not in MACRO
    assert MicroArch((0,) * 6) not in MACRO and MacroArch((1, 2, 3, 4)) not in MICRO
    assert MicroArch((0, 0, 0, 0, 0, 4)) not in MICRO
