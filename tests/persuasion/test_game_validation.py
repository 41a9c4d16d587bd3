"""Validation of games built in Python (Game, ReceiverTypesGame) and loaded from JSON.

Every error is a GameValidationError whose ``field`` names the offending field (with the
index of the entry where there is one) and whose message says what is wrong.
"""

from __future__ import annotations

import copy
import json
from fractions import Fraction as F

import numpy as np
import pytest

from persuasion import Game, GameValidationError, ReceiverTypesGame, load_game
from persuasion.game import game_from_dict

V2 = [[0, 1], [0, 1]]
U2 = [[1, 0], [0, 1]]


def base_dict() -> dict:
    return {
        "name": "prosecutor",
        "states": ["innocent", "guilty"],
        "actions": ["acquit", "convict"],
        "prior": ["7/10", "3/10"],
        "sender_utility": [[0, 1], [0, 1]],
        "receiver_utility": [[1, 0], [0, 1]],
    }


def types_dict() -> dict:
    d = base_dict()
    del d["receiver_utility"]
    d["receiver_types"] = [
        {"name": "lenient", "probability": "1/2", "utility": [[1, 0], [0, 1]]},
        {"name": "strict", "probability": "1/2", "utility": [[0, -3], [0, 1]]},
    ]
    return d


def raises_field(field: str, *words: str):
    """Context manager: GameValidationError with exactly this field, message with words."""
    class _Check:
        def __enter__(self):
            self._cm = pytest.raises(GameValidationError)
            self.info = self._cm.__enter__()
            return self.info

        def __exit__(self, *exc):
            out = self._cm.__exit__(*exc)
            if not out:  # another exception type: let it propagate
                return out
            err = self.info.value
            assert err.field == field, f"field {err.field!r} != {field!r} ({err})"
            assert str(err).startswith(f"{field}: ")
            for w in words:
                assert w.lower() in err.problem.lower(), f"{w!r} not in {err.problem!r}"
            return out
    return _Check()


# ------------------------------------------------------------------------ prior
class TestPrior:
    def test_negative(self):
        with raises_field("prior[1]", "negative"):
            Game([1.5, -0.5], V2, U2)

    @pytest.mark.parametrize("bad", [float("nan"), np.nan])
    def test_nan(self, bad):
        with raises_field("prior[0]", "finite"):
            Game([bad, 1.0], V2, U2)

    @pytest.mark.parametrize("bad", [float("inf"), -np.inf])
    def test_inf(self, bad):
        with raises_field("prior[1]", "finite"):
            Game([0.5, bad], V2, U2)

    @pytest.mark.parametrize("bad", ["nan", "inf"])
    def test_nan_inf_strings(self, bad):
        with raises_field("prior[0]", "number"):
            Game([bad, "1"], V2, U2)

    @pytest.mark.parametrize("prior", [[0.5, 0.6], [0.2, 0.2], ["1/3", "1/3"]])
    def test_not_summing_to_one(self, prior):
        with raises_field("prior", "sum", "expected 1"):
            Game(prior, V2, U2)

    def test_just_outside_tolerance(self):
        with raises_field("prior", "sum"):
            Game([0.7, 0.3 + 1e-7], V2, U2)
        with raises_field("prior", "sum"):
            Game([0.7, 0.3 + 1e-7], V2, U2, tol=1e-9)

    def test_sum_within_tolerance_is_normalised_exactly(self):
        g = Game([0.7, 0.3 + 5e-10], V2, U2)
        assert sum(g.prior_exact) == 1
        assert all(isinstance(p, F) for p in g.prior_exact)
        # normalised, not clipped: the ratio of the entries is kept exactly
        assert g.prior_exact[0] / g.prior_exact[1] == F("0.7") / F(repr(0.3 + 5e-10))
        assert abs(g.prior.sum() - 1) < 1e-15

    def test_exact_sum_is_kept_as_given(self):
        g = Game(["1/3", "2/3"], V2, U2)
        assert g.prior_exact == (F(1, 3), F(2, 3))

    def test_larger_tol_accepts_and_normalises(self):
        g = Game([0.5, 0.51], V2, U2, tol=0.05)
        assert g.prior_exact == (F(50, 101), F(51, 101))

    def test_length_mismatch(self):
        with raises_field("prior", "3 entries", "2 states"):
            Game([0.2, 0.3, 0.5], V2, U2)
        with raises_field("prior", "1 entries", "2 states"):
            Game([1], V2, U2)

    def test_empty(self):
        with raises_field("prior", "empty"):
            Game([], V2, U2)

    def test_wrong_dimension(self):
        with raises_field("prior", "1-dimensional"):
            Game([[0.5, 0.5]], V2, U2)

    def test_not_an_array(self):
        with raises_field("prior", "array"):
            Game("0.5, 0.5", V2, U2)
        with raises_field("prior", "array"):
            Game(None, V2, U2)

    def test_zero_entries_are_allowed(self):
        g = Game([1, 0], V2, U2)
        assert g.prior_exact == (1, 0)


# -------------------------------------------------------------------- utilities
class TestUtilities:
    def test_receiver_shape_mismatch_columns(self):
        with raises_field("receiver_utility", "shape (2, 2)", "(2, 3)"):
            Game([0.5, 0.5], V2, [[1, 0, 3], [0, 1, 3]])

    def test_receiver_shape_mismatch_rows(self):
        with raises_field("receiver_utility", "shape (2, 2)", "(3, 2)"):
            Game([0.5, 0.5], V2, [[1, 0], [0, 1], [0, 1]])

    def test_receiver_wrong_dimension(self):
        with raises_field("receiver_utility", "2-dimensional"):
            Game([0.5, 0.5], V2, [1, 0])

    def test_sender_wrong_dimension(self):
        with raises_field("sender_utility", "2-dimensional"):
            Game([0.5, 0.5], [0, 1], U2)
        with raises_field("sender_utility", "2-dimensional"):
            Game([0.5, 0.5], np.zeros((2, 2, 2)), U2)

    def test_sender_rows_vs_prior(self):
        # the sender utility fixes the number of states; a 3-row matrix with a 2-entry
        # prior is reported on the prior (the rows of sender_utility are named)
        with raises_field("prior", "sender_utility"):
            Game([0.5, 0.5], [[0, 1], [0, 1], [0, 1]], [[1, 0], [0, 1], [0, 1]])

    def test_sender_shape_vs_names(self):
        with raises_field("states", "3 names", "2"):
            Game([0.5, 0.5], V2, U2, states=["a", "b", "c"])
        with raises_field("actions", "1 names", "2"):
            Game([0.5, 0.5], V2, U2, actions=["x"])

    @pytest.mark.parametrize("field,kw", [
        ("sender_utility", dict(sender_utility=[[0, 1], [0]])),
        ("receiver_utility", dict(receiver_utility=[[1, 0], [0]])),
        ("sender_utility", dict(sender_utility=[["0", "1"], ["1/2"]])),
        ("receiver_utility", dict(receiver_utility=[[F(1), F(0)], [F(0)]])),
    ])
    def test_ragged_rows(self, field, kw):
        args = dict(prior=[0.5, 0.5], sender_utility=V2, receiver_utility=U2)
        args.update(kw)
        with raises_field(field, "ragged"):
            Game(**args)

    def test_no_actions(self):
        with raises_field("sender_utility", "no columns", "action"):
            Game([0.5, 0.5], [[], []], [[], []])
        with raises_field("sender_utility", "no columns"):
            Game([0.5, 0.5], np.zeros((2, 0)), np.zeros((2, 0)))

    def test_no_states(self):
        with raises_field("sender_utility", "no rows", "state"):
            Game([], np.zeros((0, 2)), np.zeros((0, 2)))

    @pytest.mark.parametrize("bad", ["abc", "", "1/0", "3/x"])
    def test_non_numeric_string(self, bad):
        with raises_field("receiver_utility[1][0]", "number", repr(bad)):
            Game([0.5, 0.5], V2, [[1, 0], [bad, 1]])

    def test_none_entry(self):
        with raises_field("sender_utility[0][1]", "number", "None"):
            Game([0.5, 0.5], [[0, None], [0, 1]], U2)
        with raises_field("prior[0]", "number"):
            Game([None, 1], V2, U2)

    def test_other_object_entry(self):
        with raises_field("sender_utility[1][1]", "number"):
            Game([0.5, 0.5], [[0, 1], [0, object()]], U2)

    def test_all_booleans(self):
        with raises_field("sender_utility[0][0]", "boolean"):
            Game([0.5, 0.5], [[True, False], [False, True]], U2)
        with raises_field("prior[0]", "boolean"):
            Game([True, False], V2, U2)
        with raises_field("sender_utility", "boolean"):
            Game([0.5, 0.5], np.array([[True, False], [False, True]]), U2)

    def test_boolean_among_fractions(self):
        with raises_field("receiver_utility[0][0]", "boolean"):
            Game([0.5, 0.5], V2, [[True, F(0)], [F(0), F(1)]])

    # np.array([[True, 0], [0, 1]]) has an integer dtype: a boolean among numbers must be
    # caught before the conversion, not read as 1 or 0
    @pytest.mark.parametrize("kw,field", [
        (dict(sender_utility=[[True, 0], [0, 1]]), "sender_utility[0][0]"),
        (dict(receiver_utility=[[1, 0.5], [False, 1]]), "receiver_utility[1][0]"),
        (dict(prior=[True, 0]), "prior[0]"),
        (dict(receiver_utility=[[1, 0], [0, np.bool_(True)]]), "receiver_utility[1][1]"),
    ])
    def test_boolean_among_numbers(self, kw, field):
        args = dict(prior=[0.5, 0.5], sender_utility=V2, receiver_utility=U2)
        args.update(kw)
        with raises_field(field, "boolean"):
            Game(**args)

    def test_json_boolean_among_integers(self):
        text = json.dumps(base_dict()).replace('"sender_utility": [[0, 1]',
                                               '"sender_utility": [[true, 1]')
        assert "[[true, 1]" in text
        with raises_field("sender_utility[0][0]", "boolean"):
            load_game(text)

    def test_json_boolean_among_decimals(self):
        text = json.dumps(base_dict()).replace('"sender_utility": [[0, 1]',
                                               '"sender_utility": [[true, 0.5]')
        assert "[[true, 0.5]" in text
        with raises_field("sender_utility[0][0]", "boolean"):
            load_game(text)

    def test_nan_in_utility(self):
        with raises_field("receiver_utility[1][1]", "finite"):
            Game([0.5, 0.5], V2, [[1, 0], [0, float("nan")]])
        with raises_field("sender_utility[0][0]", "finite"):
            Game([0.5, 0.5], np.array([[np.inf, 1], [0, 1]]), U2)

    def test_fraction_strings_read_exactly(self):
        g = Game(["3/10", "7/10"], [["1/3", 1], [0, "2/7"]], [[F(1, 3), 0], [0, "0.1"]])
        assert g.prior_exact == (F(3, 10), F(7, 10))
        assert g.sender_utility_exact[0, 0] == F(1, 3)
        assert g.sender_utility_exact[1, 1] == F(2, 7)
        assert g.receiver_utility_exact[1, 1] == F(1, 10)
        assert g.sender_utility[0, 0] == pytest.approx(1 / 3)

    def test_floats_read_as_typed(self):
        g = Game([0.3, 0.7], [[0.1, 1], [0, 1]], U2)
        assert g.prior_exact == (F(3, 10), F(7, 10))
        assert g.sender_utility_exact[0, 0] == F(1, 10)


# ------------------------------------------------------------------------ names
class TestNames:
    def test_defaults(self):
        g = Game([0.5, 0.5], V2, U2)
        assert g.states == ("s0", "s1") and g.actions == ("a0", "a1")
        assert g.name == "game"

    def test_empty_states(self):
        with raises_field("states", "empty"):
            Game([0.5, 0.5], V2, U2, states=[])

    def test_empty_actions(self):
        with raises_field("actions", "empty"):
            Game([0.5, 0.5], V2, U2, actions=[])

    def test_duplicate_states(self):
        with raises_field("states", "duplicate", "'a'", "0 and 1"):
            Game([0.5, 0.5], V2, U2, states=["a", "a"])

    def test_duplicate_actions(self):
        with raises_field("actions", "duplicate", "'x'", "0 and 2"):
            Game([1], [[0, 1, 2]], [[0, 1, 2]], actions=["x", "y", "x"])

    @pytest.mark.parametrize("bad", [1, None, "", "  ", b"x", ("a",)])
    def test_non_string_or_blank_name(self, bad):
        with raises_field("actions[1]", "non-empty string"):
            Game([0.5, 0.5], V2, U2, actions=["x", bad])

    def test_names_not_a_list(self):
        with raises_field("states", "list of names"):
            Game([0.5, 0.5], V2, U2, states="ab")

    def test_game_name_and_description(self):
        with raises_field("name", "string"):
            Game([0.5, 0.5], V2, U2, name=3)
        with raises_field("description", "string"):
            Game([0.5, 0.5], V2, U2, description=["x"])

    @pytest.mark.parametrize("tol", [-1e-9, 1.0, float("nan"), "1e-9", True])
    def test_bad_tol(self, tol):
        with raises_field("tol", "[0, 1)"):
            Game([0.5, 0.5], V2, U2, tol=tol)


# ---------------------------------------------------------------- receiver types
class TestReceiverTypesGame:
    def test_valid(self, two_judges):
        assert two_judges.n_types == 2
        assert two_judges.type_names == ("lenient", "strict")
        assert two_judges.type_probabilities_exact == (F(1, 2), F(1, 2))
        assert two_judges.receiver_utilities.shape == (2, 2, 2)
        assert two_judges.receiver_utilities_exact[1, 0, 1] == -3

    def test_empty_types(self):
        with raises_field("receiver_types", "empty"):
            ReceiverTypesGame([0.5, 0.5], V2, [], [])

    def test_types_not_a_list(self):
        with raises_field("receiver_types", "list"):
            ReceiverTypesGame([0.5, 0.5], V2, 3, [1])

    def test_type_utility_shape(self):
        with raises_field("receiver_types[1].utility", "shape (2, 2)", "(2, 3)"):
            ReceiverTypesGame([0.5, 0.5], V2, [U2, [[1, 0, 0], [0, 1, 0]]], [0.5, 0.5])

    def test_type_utility_entry(self):
        with raises_field("receiver_types[0].utility[0][1]", "number"):
            ReceiverTypesGame([0.5, 0.5], V2, [[[1, "x"], [0, 1]]], [1])

    def test_probabilities_not_summing(self):
        with raises_field("receiver_types probabilities", "sum"):
            ReceiverTypesGame([0.5, 0.5], V2, [U2, U2], [0.5, 0.6])

    def test_probability_negative(self):
        with raises_field("receiver_types probabilities[0]", "negative"):
            ReceiverTypesGame([0.5, 0.5], V2, [U2, U2], [-0.5, 1.5])

    def test_probability_count(self):
        with raises_field("receiver_types probabilities", "3 entries", "2 types"):
            ReceiverTypesGame([0.5, 0.5], V2, [U2, U2], ["1/3", "1/3", "1/3"])

    def test_duplicate_type_names(self):
        with raises_field("receiver_types names", "duplicate"):
            ReceiverTypesGame([0.5, 0.5], V2, [U2, U2], [0.5, 0.5], types=["t", "t"])

    def test_type_names_count(self):
        with raises_field("receiver_types names", "1 names", "2"):
            ReceiverTypesGame([0.5, 0.5], V2, [U2, U2], [0.5, 0.5], types=["t"])


# ------------------------------------------------------------------------- JSON
class TestLoadGame:
    def test_valid_dict_text_and_file(self, tmp_path):
        d = base_dict()
        p = tmp_path / "g.json"
        p.write_text(json.dumps(d))
        for src in (d, json.dumps(d), str(p), p, "  \n" + json.dumps(d)):
            g = load_game(src)
            assert isinstance(g, Game)
            assert g.prior_exact == (F(7, 10), F(3, 10))
            assert g.states == ("innocent", "guilty")
            assert g.name == "prosecutor"

    def test_types_game(self):
        g = load_game(types_dict())
        assert isinstance(g, ReceiverTypesGame)
        assert g.type_names == ("lenient", "strict")
        assert g.receiver_utilities_exact[1, 0, 1] == -3

    def test_type_name_defaults(self):
        d = types_dict()
        for entry in d["receiver_types"]:
            del entry["name"]
        assert load_game(d).type_names == ("t0", "t1")

    def test_rationals_as_strings_are_exact(self):
        d = base_dict()
        d["prior"] = ["1/3", "2/3"]
        d["sender_utility"] = [["1/7", "0"], ["-2/3", "5"]]
        g = load_game(json.dumps(d))
        assert g.prior_exact == (F(1, 3), F(2, 3))
        assert g.sender_utility_exact[0, 0] == F(1, 7)
        assert g.sender_utility_exact[1, 0] == F(-2, 3)

    def test_decimals_are_exact(self):
        text = json.dumps(base_dict()).replace('["7/10", "3/10"]', "[0.7, 0.3]")
        text = text.replace('"sender_utility": [[0, 1]', '"sender_utility": [[0.1, 1]')
        assert "[0.7, 0.3]" in text and "[[0.1, 1]" in text
        g = load_game(text)
        assert g.prior_exact == (F(7, 10), F(3, 10))
        assert g.sender_utility_exact[0, 0] == F(1, 10)
        # 0.1 + 0.2 + 0.7 is 1 exactly in decimals, not in binary floating point
        d = base_dict()
        d.update(states=["a", "b", "c"], prior=[0, 0, 0],
                 sender_utility=[[0, 1]] * 3, receiver_utility=[[1, 0]] * 3)
        text = json.dumps(d).replace("[0, 0, 0]", "[0.1, 0.2, 0.7]")
        g = load_game(text, tol=0)
        assert g.prior_exact == (F(1, 10), F(2, 10), F(7, 10))

    @pytest.mark.parametrize("key,value,field,word", [
        ("prior", ["abc", 1], "prior[0]", "number"),
        ("prior", [None, 1], "prior[0]", "number"),
        ("prior", [0.5, 0.6], "prior", "sum"),
        ("prior", [-0.5, 1.5], "prior[0]", "negative"),
        ("sender_utility", [[0, 1], [0, None]], "sender_utility[1][1]", "number"),
        ("sender_utility", [[0, 1], [0]], "sender_utility", "ragged"),
        ("receiver_utility", [[1, "x"], [0, 1]], "receiver_utility[0][1]", "number"),
        ("receiver_utility", [[1, 0, 0], [0, 1, 0]], "receiver_utility", "shape"),
        ("states", ["a", "a"], "states", "duplicate"),
        ("actions", ["x", 2], "actions[1]", "string"),
        ("states", [], "states", "empty"),
    ])
    def test_bad_values_in_json(self, key, value, field, word):
        d = base_dict()
        d[key] = value
        with raises_field(field, word):
            load_game(json.dumps(d))

    def test_unknown_top_level_key(self):
        d = base_dict()
        d["reciever_utility"] = d.pop("receiver_utility")
        with raises_field("reciever_utility", "unknown key", "receiver_utility"):
            load_game(d)

    def test_unknown_key_in_type(self):
        d = types_dict()
        d["receiver_types"][1]["prob"] = 1
        with raises_field("receiver_types[1].prob", "unknown key"):
            load_game(d)

    @pytest.mark.parametrize("key", ["states", "actions", "prior", "sender_utility"])
    def test_missing_required_key(self, key):
        d = base_dict()
        del d[key]
        with raises_field(key, "missing"):
            load_game(d)

    @pytest.mark.parametrize("key", ["probability", "utility"])
    def test_missing_type_key(self, key):
        d = types_dict()
        del d["receiver_types"][0][key]
        with raises_field(f"receiver_types[0].{key}", "missing"):
            load_game(d)

    def test_both_receiver_keys(self):
        d = types_dict()
        d["receiver_utility"] = [[1, 0], [0, 1]]
        with raises_field("receiver_utility", "exactly one", "receiver_types"):
            load_game(d)

    def test_neither_receiver_key(self):
        d = base_dict()
        del d["receiver_utility"]
        with raises_field("receiver_utility", "exactly one", "receiver_types"):
            load_game(d)

    @pytest.mark.parametrize("types", [[], {}, "t", None])
    def test_types_not_a_non_empty_list(self, types):
        d = types_dict()
        d["receiver_types"] = types
        with raises_field("receiver_types", "non-empty list"):
            load_game(d)

    def test_type_entry_not_an_object(self):
        d = types_dict()
        d["receiver_types"][1] = [1, 2]
        with raises_field("receiver_types[1]", "object"):
            load_game(d)

    def test_type_utility_shape(self):
        d = types_dict()
        d["receiver_types"][1]["utility"] = [[1, 0]]
        with raises_field("receiver_types[1].utility", "shape"):
            load_game(d)

    # a bad entry of a type is reported at its JSON path, like unknown and missing keys
    @pytest.mark.parametrize("key,value,word", [
        ("probability", "-1/2", "negative"),
        ("probability", None, "number"),
        ("probability", "x", "number"),
        ("probability", True, "boolean"),
        ("name", 3, "string"),
        ("name", "", "string"),
        ("name", "lenient", "duplicate"),
    ])
    def test_type_field_is_the_json_path(self, key, value, word):
        d = types_dict()
        d["receiver_types"][1][key] = value
        with raises_field(f"receiver_types[1].{key}", word):
            load_game(d)

    def test_type_probabilities_not_summing_to_one(self):
        d = types_dict()
        d["receiver_types"][1]["probability"] = "0.6"
        with pytest.raises(GameValidationError, match="sum") as info:
            load_game(d)
        assert info.value.field.startswith("receiver_types")

    @pytest.mark.parametrize("key,value", [("states", "ab"), ("actions", {"x": 1})])
    def test_names_not_lists(self, key, value):
        d = base_dict()
        d[key] = value
        with raises_field(key, "list"):
            load_game(d)

    def test_top_level_not_an_object(self):
        with raises_field("game", "object"):
            game_from_dict([1, 2])
        with raises_field("game", "path, JSON text or dict"):
            load_game(42)

    def test_invalid_json_one_line(self):
        with raises_field("game", "invalid JSON", "line 1", "column 15"):
            load_game('{"states": [1,}')

    def test_invalid_json_line_and_column(self, tmp_path):
        text = '{\n  "states": ["a", "b"],\n  "prior": [0.5 0.5]\n}'
        with raises_field("game", "invalid JSON", "line 3", "column 17"):
            load_game(text)
        p = tmp_path / "bad.json"
        p.write_text(text)
        with raises_field(str(p), "invalid JSON", "line 3", "column 17"):
            load_game(p)

    def test_file_not_found(self, tmp_path):
        p = tmp_path / "missing.json"
        with raises_field(str(p), "file not found"):
            load_game(str(p))
        with raises_field(str(p), "file not found"):
            load_game(p)

    def test_unreadable_file(self, tmp_path):
        p = tmp_path / "binary.json"
        p.write_bytes(b"\xff\xfe\x00\x81")
        with raises_field(str(p), "cannot read"):
            load_game(p)

    def test_invalid_game_in_file(self, tmp_path):
        d = base_dict()
        d["prior"] = [0.5, 0.6]
        p = tmp_path / "g.json"
        p.write_text(json.dumps(d))
        with raises_field("prior", "sum"):
            load_game(p)

    def test_does_not_mutate_the_dict(self):
        d = types_dict()
        before = copy.deepcopy(d)
        load_game(d)
        assert d == before

    @pytest.mark.parametrize("make", [base_dict, types_dict])
    def test_round_trip_through_to_dict(self, make):
        g = load_game(make())
        d = g.to_dict(exact=True)
        g2 = load_game(json.loads(json.dumps(d)))
        assert g2.to_dict(exact=True) == d
        assert g2.prior_exact == g.prior_exact
        assert (g2.receiver_utilities_exact == g.receiver_utilities_exact).all()


# ------------------------------------------------------ immutability, no aliasing
class TestNoMutation:
    def test_numpy_inputs_not_mutated_or_aliased(self):
        prior = np.array([0.7, 0.3 + 5e-10])  # normalised inside the game
        V = np.array([[0.0, 1.0], [0.0, 1.0]])
        U = np.array([[1, 0], [0, 1]])
        copies = [a.copy() for a in (prior, V, U)]
        g = Game(prior, V, U)
        for a, c in zip((prior, V, U), copies):
            assert np.array_equal(a, c) and a.dtype == c.dtype
            assert a.flags.writeable
        V[0, 0] = 99.0  # the game keeps its own copy
        U[1, 1] = 99
        prior[0] = 0.0
        assert g.sender_utility[0, 0] == 0.0
        assert g.receiver_utility[1, 1] == 1
        assert g.prior[0] == pytest.approx(0.7)
        assert g.sender_utility_exact[0, 0] == 0

    def test_list_inputs_not_mutated(self):
        prior = ["7/10", "3/10"]
        V = [[0, F(1)], [0, "1"]]
        Us = [[[1, 0], [0, 1]], [[0, -3], [0, 1]]]
        rho = [0.5, 0.5]
        before = copy.deepcopy((prior, V, Us, rho))
        g = ReceiverTypesGame(prior, V, Us, rho)
        assert (prior, V, Us, rho) == before
        Us[0][0][0] = 42
        assert g.receiver_utilities[0, 0, 0] == 1

    def test_arrays_are_read_only(self, prosecutor, two_judges):
        for g in (prosecutor, two_judges):
            arrays = [g.prior, g.sender_utility, g.sender_utility_exact, g.receiver_utilities,
                      g.receiver_utilities_exact, g.type_probabilities]
            if isinstance(g, Game):
                arrays += [g.receiver_utility, g.receiver_utility_exact]
            for a in arrays:
                assert not a.flags.writeable
                with pytest.raises(ValueError):
                    a[(0,) * a.ndim] = 5
            assert isinstance(g.prior_exact, tuple)
            assert isinstance(g.type_probabilities_exact, tuple)

    def test_with_data_keeps_the_original(self, prosecutor):
        g2 = prosecutor.with_data(prior=["1/2", "1/2"])
        assert prosecutor.prior_exact == (F(7, 10), F(3, 10))
        assert g2.prior_exact == (F(1, 2), F(1, 2))
        assert g2.states == prosecutor.states
        assert (g2.receiver_utility_exact == prosecutor.receiver_utility_exact).all()
