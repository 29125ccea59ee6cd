"""Root causes: each planted change is ranked first, with its dollars and evidence."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from costcouncil.anomaly.causes import CAUSES, explain
from costcouncil.anomaly.frames import CostGroup, Frame, JobGroup, LlmGroup

PRICES = {"gpt-4o": (2.5e-6, 10e-6, 1.25e-6), "gpt-4o-mini": (0.15e-6, 0.6e-6, 0.075e-6)}


def _llm(model: str, requests: float, i: float, o: float, k: float = 0.0, client: str = "app") -> LlmGroup:
    p_in, p_out, p_c = PRICES[model]
    cost = requests * (i * (1 - k) * p_in + i * k * p_c + o * p_out)
    return LlmGroup("openai", model, client, requests, requests * i, requests * o, requests * i * k,
                    cost, p_in, p_out, p_c)  # fmt: skip


def _llm_cost(groups: list[LlmGroup]) -> tuple[CostGroup, ...]:
    return tuple(CostGroup("proj_1", f"{g.model}", "OpenAI API", "global", "acct", "llm",
                           "usage_split", g.cost) for g in groups)  # fmt: skip


def _frame(days: float, llm: list[LlmGroup] = (), costs: list[CostGroup] = (), jobs: list[JobGroup] = ()) -> Frame:  # type: ignore[assignment]
    return Frame(days, tuple(llm), tuple(costs) + _llm_cost(list(llm)), tuple(jobs))


def _top(baseline: Frame, window: Frame) -> str:
    causes = explain(baseline, window)
    assert causes, "no cause found"
    return causes[0].cause


def _gpu(resource: str, cost: float, method: str = "tag", sku: str = "p5.48xlarge") -> CostGroup:
    return CostGroup(resource, sku, "Amazon EC2", "us-east-1", "acct", "gpu", method, cost, cost / 98.0)


BASE_LLM = [_llm("gpt-4o-mini", 28_000, 1_500, 300, 0.5), _llm("gpt-4o", 2_800, 1_500, 300, 0.5)]


def test_traffic_moved_to_a_pricier_model_is_a_mix_shift() -> None:
    window = [_llm("gpt-4o-mini", 1_000, 1_500, 300, 0.5), _llm("gpt-4o", 2_900, 1_500, 300, 0.5)]
    causes = explain(_frame(28, BASE_LLM), _frame(3, window))
    assert causes[0].cause == "model_mix_shift"
    assert causes[0].evidence["share_change"]["openai/gpt-4o"] > 0.5


def test_longer_prompts_are_tokens_per_request() -> None:
    window = [_llm("gpt-4o-mini", 3_000, 4_500, 300, 0.5), _llm("gpt-4o", 300, 4_500, 300, 0.5)]
    causes = explain(_frame(28, BASE_LLM), _frame(3, window))
    assert causes[0].cause == "tokens_per_request_up"
    assert causes[0].evidence["models"]["openai/gpt-4o"] == {"before": 1500.0, "now": 4500.0}


def test_more_reasoning_output_is_output_tokens() -> None:
    window = [_llm("gpt-4o-mini", 3_000, 1_500, 1_800, 0.5), _llm("gpt-4o", 300, 1_500, 1_800, 0.5)]
    assert _top(_frame(28, BASE_LLM), _frame(3, window)) == "output_tokens_up"


def test_a_cold_cache_is_cache_hit_down() -> None:
    window = [_llm("gpt-4o-mini", 3_000, 1_500, 300, 0.0), _llm("gpt-4o", 300, 1_500, 300, 0.0)]
    causes = explain(_frame(28, BASE_LLM), _frame(3, window))
    assert causes[0].cause == "cache_hit_down" and causes[0].contribution > 0


def test_a_new_client_in_a_loop_is_named() -> None:
    window = [*[_llm(g.model, g.requests / 28 * 3, 1_500, 300, 0.5) for g in BASE_LLM],
              _llm("gpt-4o", 9_000, 1_500, 300, 0.5, client="key-retry-loop")]  # fmt: skip
    causes = explain(_frame(28, BASE_LLM), _frame(3, window))
    assert causes[0].cause == "new_client" and causes[0].evidence["client"] == "key-retry-loop"


def test_organic_growth_is_requests_up_not_a_client() -> None:
    base = [_llm("gpt-4o", 1_000, 1_500, 300, client=f"c{i}") for i in range(10)]
    window = [_llm("gpt-4o", 1_000 / 28 * 3 * 1.6, 1_500, 300, client=f"c{i}") for i in range(10)]
    assert _top(_frame(28, base), _frame(3, window)) == "requests_up"


def test_a_dearer_unit_price_is_a_price_change() -> None:
    base = [CostGroup("db-1", "db.r6g", "RDS", "eu-west-1", "a", "other", "tag", 28 * 100.0, 28 * 24.0)]
    window = [CostGroup("db-1", "db.r6g", "RDS", "eu-west-1", "a", "other", "tag", 3 * 150.0, 3 * 24.0)]
    causes = explain(_frame(28, costs=base), _frame(3, costs=window))
    assert causes[0].cause == "price_change"
    assert math.isclose(causes[0].contribution, 150.0)


def test_untagged_spend_is_named() -> None:
    base = [CostGroup("i-1", "m5", "EC2", "us-east-1", "a", "other", "tag", 28 * 50.0)]
    window = [CostGroup("i-1", "m5", "EC2", "us-east-1", "a", "other", "tag", 3 * 50.0),
              CostGroup("i-x", "m5", "EC2", "us-east-1", "a", "other", "unallocated", 3 * 40.0)]  # fmt: skip
    assert _top(_frame(28, costs=base), _frame(3, costs=window)) == "untagged_spend"


def test_a_new_gpu_without_jobs_is_idle_and_with_jobs_a_runaway() -> None:
    base = [_gpu("i-old", 28 * 100.0)]
    window = [_gpu("i-old", 3 * 100.0), _gpu("i-new", 3 * 2_000.0)]
    busy = [JobGroup("i-new", "running", 3 * 24 * 8.0, 1, days_active=3)]
    assert _top(_frame(28, costs=base), _frame(3, costs=window)) == "idle_gpu_up"
    assert _top(_frame(28, costs=base), _frame(3, costs=window, jobs=busy)) == "runaway_gpu_job"


def test_failing_training_runs_on_a_shared_node() -> None:
    base = [_gpu("node-1", 28 * 300.0, method="usage_split")]
    window = [_gpu("node-1", 3 * 700.0, method="usage_split")]
    jobs_b = [JobGroup("node-1", "succeeded", 28 * 40.0, 28)]
    jobs_w = [JobGroup("node-1", "succeeded", 3 * 40.0, 3), JobGroup("node-1", "failed", 3 * 55.0, 40)]
    causes = explain(_frame(28, costs=base, jobs=jobs_b), _frame(3, costs=window, jobs=jobs_w))
    assert causes[0].cause == "training_failures" and causes[0].share > 0.5


def test_a_new_bucket_is_a_new_resource_and_the_rest_a_dimension() -> None:
    base = [CostGroup("b-1", "s3", "S3", "us-east-1", "a", "other", "tag", 28 * 10.0)]
    window = [CostGroup("b-1", "s3", "S3", "us-east-1", "a", "other", "tag", 3 * 30.0),
              CostGroup("b-2", "s3", "S3", "eu-west-1", "a", "other", "tag", 3 * 60.0)]  # fmt: skip
    causes = explain(_frame(28, costs=base), _frame(3, costs=window))
    assert [c.cause for c in causes[:2]] == ["new_resource", "dimension"]
    assert math.isclose(causes[0].contribution, 180.0)


def test_a_drop_is_explained_by_what_fell() -> None:
    base = [CostGroup("i-1", "m5", "EC2", "us-east-1", "a", "other", "tag", 28 * 100.0)]
    window = [CostGroup("i-1", "m5", "EC2", "us-east-1", "a", "other", "tag", 3 * 10.0)]
    causes = explain(_frame(28, costs=base), _frame(3, costs=window))
    assert causes[0].cause == "dimension" and causes[0].contribution < 0 < causes[0].share


_group = st.builds(
    CostGroup,
    st.sampled_from(["r1", "r2", "r3"]),
    st.sampled_from(["s1", "s2"]),
    st.just("svc"),
    st.sampled_from(["us", "eu"]),
    st.just("a"),
    st.sampled_from(["gpu", "other", "llm"]),
    st.sampled_from(["tag", "idle", "unallocated", "usage_split"]),
    st.floats(-50, 5_000),
    st.floats(0, 1_000),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_group, max_size=8), st.lists(_group, max_size=8), st.floats(1, 60), st.floats(1, 14))
def test_explain_never_fails_and_ranks_in_the_direction_of_the_change(
    before: list[CostGroup], now: list[CostGroup], days_b: float, days_w: float
) -> None:
    causes = explain(Frame(days_b, costs=tuple(before)), Frame(days_w, costs=tuple(now)))
    change = (sum(g.cost for g in now) / days_w - sum(g.cost for g in before) / days_b) * days_w
    for c in causes:
        assert c.cause in CAUSES and math.isfinite(c.contribution) and math.isfinite(c.share)
        assert c.contribution * change >= 0
    sizes = [abs(c.contribution) for c in causes]
    assert sizes == sorted(sizes, reverse=True)


def test_a_new_gpu_is_named_by_what_its_jobs_did() -> None:
    base = [_gpu("i-old", 28 * 100.0)]
    window = [_gpu("i-old", 3 * 100.0), _gpu("i-new", 3 * 2_000.0)]
    for status, cause in (("failed", "training_failures"), ("killed", "runaway_gpu_job"),
                          ("succeeded", "new_resource")):  # fmt: skip
        jobs = [JobGroup("i-new", status, 3 * 24 * 8.0, 30, days_active=3)]
        assert _top(_frame(28, costs=base), _frame(3, costs=window, jobs=jobs)) == cause, status


def test_a_new_customer_over_many_keys_is_one_client() -> None:
    def keyed(key: str, customer: str, requests: float) -> LlmGroup:
        g = _llm("gpt-4o-mini", requests, 1_200, 200, client=key)
        return LlmGroup(g.provider, g.model, g.client, g.requests, g.input_tokens, g.output_tokens,
                        g.cached_tokens, g.cost, g.price_input, g.price_output, g.price_cached,
                        customer=customer)  # fmt: skip

    base = [keyed(f"key-acme-{i}", "acme", 28 * 1_000) for i in range(5)]
    window = [keyed(f"key-acme-{i}", "acme", 3 * 1_000) for i in range(5)]
    window += [keyed(f"key-globex-{i}", "globex", 3 * 1_500) for i in range(4)]
    causes = explain(_frame(28, base), _frame(3, window))
    assert causes[0].cause == "new_client"
    assert causes[0].evidence == {"client": "globex", "by": "customer", "before": 0.0, "now": 6000.0}
