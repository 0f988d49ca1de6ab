"""Latency models and their command-line specifications."""

from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from a27_netsim import (
    DEFAULT_REGION_MATRIX,
    ConstantLatency,
    LatencyError,
    LatencyModel,
    LogNormalLatency,
    RegionLatency,
    UniformLatency,
    parse_latency,
)


def test_constant_latency_draws_nothing() -> None:
    rng = random.Random(1)
    state = rng.getstate()
    assert ConstantLatency(0.003).sample("eu", "us", rng) == 0.003
    assert rng.getstate() == state
    assert ConstantLatency(0.0).assign_region(5) is None


@given(st.floats(0, 1), st.floats(0, 1), st.integers(0, 2**32))
def test_uniform_latency_stays_within_bounds(a: float, b: float, seed: int) -> None:
    low, high = min(a, b), max(a, b)
    assert low <= UniformLatency(low, high).sample(None, None, random.Random(seed)) <= high


def test_lognormal_latency_has_the_given_median() -> None:
    model = LogNormalLatency(0.05, 0.5)
    rng = random.Random(2)
    samples = [model.sample(None, None, rng) for _ in range(20000)]
    assert statistics.median(samples) == pytest.approx(0.05, rel=0.03)
    assert min(samples) > 0


def test_region_latency_is_symmetric_with_bounded_jitter() -> None:
    model = RegionLatency(jitter=0.002)
    rng = random.Random(3)
    for (a, b), seconds in DEFAULT_REGION_MATRIX.items():
        for src, dst in ((a, b), (b, a)):
            assert seconds <= model.sample(src, dst, rng) <= seconds + 0.002
    assert model.regions == ("asia", "eu", "us")
    assert [model.assign_region(i) for i in range(4)] == ["asia", "eu", "us", "asia"]


def test_region_latency_errors() -> None:
    with pytest.raises(LatencyError, match="no delay"):
        RegionLatency({("eu", "eu"): 0.01, ("us", "us"): 0.01})
    with pytest.raises(LatencyError):
        RegionLatency().sample("eu", "mars", random.Random(1))
    with pytest.raises(LatencyError):
        RegionLatency().sample(None, "eu", random.Random(1))


def test_impossible_parameters_are_rejected() -> None:
    for build in (
        lambda: ConstantLatency(-1),
        lambda: UniformLatency(0.2, 0.1),
        lambda: LogNormalLatency(0, 1),
        lambda: LogNormalLatency(0.1, float("nan")),
        lambda: RegionLatency(jitter=-0.1),
    ):
        with pytest.raises(LatencyError):
            build()


def test_parse_latency_specifications() -> None:
    constant = parse_latency("constant:0.001")
    assert isinstance(constant, ConstantLatency)
    assert constant.seconds == 0.001
    uniform = parse_latency("uniform:0.01, 0.05")
    assert isinstance(uniform, UniformLatency)
    assert (uniform.low, uniform.high) == (0.01, 0.05)
    lognormal = parse_latency("lognormal:0.05,0.5")
    assert isinstance(lognormal, LogNormalLatency)
    assert (lognormal.median, lognormal.sigma) == (0.05, 0.5)
    regions = parse_latency("regions")
    assert isinstance(regions, RegionLatency)
    assert regions.jitter == 0.002
    assert parse_latency("Regions:0").jitter == 0.0  # type: ignore[union-attr]
    for model in (constant, uniform, lognormal, regions):
        assert isinstance(model, LatencyModel)
        assert type(model).__name__ in repr(model)


@pytest.mark.parametrize(
    "spec", ["", "gaussian:1", "constant", "constant:a", "uniform:0.1", "lognormal:1,2,3", "regions:x", "constant:-1"]
)
def test_parse_latency_rejects_bad_specifications(spec: str) -> None:
    with pytest.raises(LatencyError):
        parse_latency(spec)
