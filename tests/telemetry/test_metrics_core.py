"""The Ray-free metrics core: the recorder, the aggregation across processes, the Prometheus rendering."""

from __future__ import annotations

import pytest

from flowker.telemetry import catalog
from flowker.telemetry.aggregate import Aggregator
from flowker.telemetry.exposition import render
from flowker.telemetry.recorder import Recorder
from tests.helpers.metrics import Scrape


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_recorder_counts_observes_and_sets_by_labels() -> None:
    recorder = Recorder("a")
    recorder.inc(catalog.EXECUTIONS_STARTED, "wf-1")
    recorder.inc(catalog.EXECUTIONS_STARTED, "wf-1")
    recorder.inc(catalog.EXECUTIONS_STARTED, "wf-2", by=3)
    recorder.observe(catalog.STEP_SECONDS, "ex-1", "success", value=0.01)  # on a bound: that bucket
    recorder.observe(catalog.STEP_SECONDS, "ex-1", "success", value=100.0)  # above every bound: +Inf
    recorder.set(catalog.AUDIT_CHAIN_LENGTH, value=7)
    snapshot = recorder.snapshot("test")
    assert snapshot.source == "a" and snapshot.kind == "test"
    assert snapshot.counters == {
        ("flowker_executions_started", ("wf-1",)): 2.0,
        ("flowker_executions_started", ("wf-2",)): 3.0,
    }
    histogram = snapshot.histograms[("flowker_step_duration_seconds", ("ex-1", "success"))]
    assert histogram.count == 2 and histogram.total == pytest.approx(100.01)
    assert histogram.counts[catalog.LATENCY_BUCKETS.index(0.01)] == 1 and histogram.counts[-1] == 1
    assert snapshot.gauges == {("flowker_audit_chain_length", ()): 7.0}


def test_a_recorder_refuses_the_wrong_number_of_labels() -> None:
    with pytest.raises(ValueError, match="takes labels"):
        Recorder().inc(catalog.EXECUTIONS_FINISHED, "wf-1")


def test_a_snapshot_is_a_copy() -> None:
    recorder = Recorder()
    recorder.inc(catalog.AUDIT_EVENTS)
    snapshot = recorder.snapshot()
    recorder.inc(catalog.AUDIT_EVENTS)
    assert snapshot.counters[("flowker_audit_events_appended", ())] == 1.0


def test_clear_drops_every_series_of_a_gauge() -> None:
    recorder = Recorder()
    recorder.set(catalog.BREAKER_STATE, "ex-1", "open", value=1)
    recorder.set(catalog.AUDIT_CHAIN_LENGTH, value=3)
    recorder.clear(catalog.BREAKER_STATE)
    assert recorder.snapshot().gauges == {("flowker_audit_chain_length", ()): 3.0}


def test_counters_and_histograms_of_several_processes_are_summed_gauges_only_from_those_that_answered() -> (
    None
):
    clock = Clock()
    aggregator = Aggregator(clock, fold_after_seconds=60)
    one, two = Recorder("one"), Recorder("two")
    one.inc(catalog.PROVIDER_CALLS, "ex-1", "ok", by=2)
    two.inc(catalog.PROVIDER_CALLS, "ex-1", "ok", by=5)
    one.observe(catalog.PROVIDER_REQUEST_SECONDS, "ex-1", value=0.02)
    two.observe(catalog.PROVIDER_REQUEST_SECONDS, "ex-1", value=0.2)
    two.set(catalog.LIVE_EXECUTIONS, "supervisor-1", "node", value=4)
    merged = aggregator.merge([one.snapshot(), two.snapshot()])
    assert merged.counters[("flowker_provider_calls", ("ex-1", "ok"))] == 7
    assert merged.histograms[("flowker_provider_request_duration_seconds", ("ex-1",))].count == 2
    assert merged.gauges[("flowker_live_executions", ("supervisor-1", "node"))] == 4
    assert merged.sources == 2

    # "two" does not answer the next round: its counts stay, its gauge does not.
    clock.now = 10
    one.inc(catalog.PROVIDER_CALLS, "ex-1", "ok")
    merged = aggregator.merge([one.snapshot()])
    assert merged.counters[("flowker_provider_calls", ("ex-1", "ok"))] == 8
    assert ("flowker_live_executions", ("supervisor-1", "node")) not in merged.gauges

    # Long gone: folded into the retired totals, still counted once; and not twice if it comes back.
    clock.now = 100
    merged = aggregator.merge([one.snapshot()])
    assert merged.counters[("flowker_provider_calls", ("ex-1", "ok"))] == 8
    assert aggregator.merge([one.snapshot()]).counters[("flowker_provider_calls", ("ex-1", "ok"))] == 8


def test_a_restarted_process_is_a_new_source_and_the_sum_does_not_drop() -> None:
    aggregator = Aggregator(Clock(), fold_after_seconds=60)
    before = Recorder("actor-before-restart")
    before.inc(catalog.TOKEN_FETCHES, "client_credentials", "ok", by=3)
    aggregator.merge([before.snapshot()])
    after = Recorder("actor-after-restart")
    after.inc(catalog.TOKEN_FETCHES, "client_credentials", "ok")
    merged = aggregator.merge([after.snapshot()])
    assert merged.counters[("flowker_token_fetches", ("client_credentials", "ok"))] == 4


def test_the_rendering_is_prometheus_text_with_every_family() -> None:
    recorder = Recorder()
    recorder.inc(catalog.HTTP_REQUESTS, "GET", "/v1/executions/{id}", "2xx", by=2)
    recorder.observe(catalog.AUDIT_APPEND_SECONDS, value=0.003)
    recorder.observe(catalog.AUDIT_APPEND_SECONDS, value=2.0)
    recorder.set(catalog.BREAKER_STATE, "ex-1", "closed", value=1)
    text = render(Aggregator(Clock(), 60).merge([recorder.snapshot()])).decode()
    for metric in catalog.ALL:
        kind = "counter" if metric.kind == catalog.COUNTER else metric.kind
        assert f"# TYPE {metric.name}{'_total' if kind == 'counter' else ''} {kind}" in text or (
            f"# TYPE {metric.name} {kind}" in text
        ), metric.name
    scrape = Scrape(text)
    assert scrape.value("flowker_http_requests_total", route="/v1/executions/{id}", status_class="2xx") == 2
    assert scrape.value("flowker_audit_append_duration_seconds_bucket", le="0.005") == 1
    assert scrape.value("flowker_audit_append_duration_seconds_bucket", le="+Inf") == 2
    assert scrape.value("flowker_audit_append_duration_seconds_count") == 2
    assert scrape.value("flowker_breaker_state", executor_config_id="ex-1", state="closed") == 1


def test_no_metric_is_labelled_by_execution() -> None:
    for metric in catalog.ALL:
        assert not any("execution" in label for label in metric.labels), metric.name
