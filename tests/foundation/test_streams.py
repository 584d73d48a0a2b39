import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from colossus.streams import Streams


@given(seed=st.integers(0, 2**63), name=st.text(min_size=1, max_size=20))
def test_same_seed_and_name_give_same_numbers(seed, name):
    a = Streams(seed).get(name).random(5)
    b = Streams(seed).get(name).random(5)
    assert np.array_equal(a, b)


def test_streams_are_independent_of_request_order():
    s1 = Streams(11)
    x1 = s1.get("arrivals").random(3)
    y1 = s1.get("failures").random(3)
    s2 = Streams(11)
    y2 = s2.get("failures").random(3)
    x2 = s2.get("arrivals").random(3)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, y1)


def test_different_seeds_differ_and_children_are_stable():
    assert not np.array_equal(Streams(1).get("a").random(4), Streams(2).get("a").random(4))
    assert Streams(5).child("rep-3").seed == Streams(5).child("rep-3").seed
    assert Streams(5).child("rep-3").seed != Streams(5).child("rep-4").seed


def test_get_advances_fresh_restarts():
    s = Streams(0)
    first = s.get("x").random()
    assert s.get("x").random() != first
    assert s.fresh("x").random() == first


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_seed_rejected(bad):
    with pytest.raises(ValueError):
        Streams(bad)
