"""Observability stack health: Prometheus, Alertmanager, Tempo ingest, the OpenTelemetry Collector and scrape health."""

from __future__ import annotations

from typing import Any

from dashboards.lib import Dashboard, q, stat, steps, table, timeseries

UID = "shannon-observability-stack"


def build() -> dict[str, Any]:
    d = Dashboard(UID, "Shannon / Observability Stack Health",
                  "The monitoring stack itself: Prometheus, Alertmanager, Tempo and scraping.", ["observability", "meta"])
    d.row("Prometheus")
    d.add(
        stat("Head Series", [q('sum(prometheus_tsdb_head_series{job="prometheus"})', "series")], w=6),
        stat("Samples/s", [q('sum(rate(prometheus_tsdb_head_samples_appended_total{job="prometheus"}[$__rate_interval]))',
                             "samples/s")], w=6),
        stat("Config Reload OK", [q('min(prometheus_config_last_reload_successful{job="prometheus"})', "ok")],
             w=6, thresholds=steps(("red", None), ("green", 1))),
        stat("Rule Evaluation Failures", [q('sum(increase(prometheus_rule_evaluation_failures_total{job="prometheus"}[$__range]))',
                                            "failures", instant=True)],
             w=6, thresholds=steps(("green", None), ("red", 1))),
    )
    d.add(
        timeseries("Rule Group Duration vs Interval", [
            q('max by (rule_group) (prometheus_rule_group_last_duration_seconds{job="prometheus"})', "{{rule_group}}"),
        ], unit="s", w=12, description="A group that takes longer than its interval misses evaluations."),
        timeseries("Storage against the Retention Limit", [
            q('max by (instance) (prometheus_tsdb_storage_blocks_bytes{job="prometheus"})', "blocks {{instance}}"),
            q('max by (instance) (prometheus_tsdb_retention_limit_bytes{job="prometheus"})', "size limit {{instance}}"),
        ], unit="bytes", w=12, description="Blocks on disk and the size-based retention limit (85% of the volume)."),
    )
    d.row("Alertmanager")
    d.add(
        timeseries("Notifications by Integration", [
            q('sum by (integration) (rate(alertmanager_notifications_total{job="alertmanager"}[$__rate_interval]))', "sent {{integration}}"),
            q('sum by (integration) (rate(alertmanager_notifications_failed_total{job="alertmanager"}[$__rate_interval]))',
              "failed {{integration}}"),
        ], w=12),
        timeseries("Cluster Members and Alerts", [
            q('alertmanager_cluster_members{job="alertmanager"}', "members seen by {{instance}}"),
            q('sum by (state) (alertmanager_alerts{job="alertmanager"})', "alerts {{state}}"),
        ], w=12),
    )
    d.add(
        timeseries("Prometheus to Alertmanager", [
            q('sum by (alertmanager) (rate(prometheus_notifications_sent_total{job="prometheus"}[$__rate_interval]))', "sent {{alertmanager}}"),
            q('sum by (alertmanager) (rate(prometheus_notifications_errors_total{job="prometheus"}[$__rate_interval]))', "errors {{alertmanager}}"),
            q('sum(rate(prometheus_notifications_dropped_total{job="prometheus"}[$__rate_interval]))', "dropped"),
        ], w=24),
    )
    # Left out of stacks without prometheus.remoteWrite (components/builders/features.py).
    d.row("Remote Write")
    d.add(
        timeseries("Samples Sent and Refused", [
            q('sum by (remote_name) (rate(prometheus_remote_storage_samples_total{job="prometheus"}[$__rate_interval]))',
              "sent {{remote_name}}"),
            q('sum by (remote_name) (rate(prometheus_remote_storage_samples_failed_total{job="prometheus"}[$__rate_interval]))',
              "refused {{remote_name}}"),
            q('sum by (remote_name) (rate(prometheus_remote_storage_samples_retried_total{job="prometheus"}[$__rate_interval]))',
              "retried {{remote_name}}"),
        ], w=8, description="Refused samples (4xx) are lost for the store; retried ones (5xx, 429, store down) wait "
                           "in the queue and WAL."),
        timeseries("Lag behind Ingestion", [
            q('max by (instance) (prometheus_remote_storage_highest_timestamp_in_seconds{job="prometheus"}) '
              '- on (instance) group_right max by (instance, remote_name) '
              '(prometheus_remote_storage_queue_highest_sent_timestamp_seconds{job="prometheus"})',
              "{{remote_name}} {{instance}}"),
        ], unit="s", w=8, description="Age of the newest delivered sample against the newest ingested. The WAL keeps "
                                      "about two hours."),
        timeseries("HA Copies Stored per Cluster (choose the Long-term datasource)", [
            q('count by (cluster) (count by (cluster, __replica__, replica) (up{job="orchestrator"}))', "{{cluster}}"),
        ], w=8, description="On a long-term datasource: how many copies of each series the store keeps per cluster. "
                           "1: the store deduplicates the HA pair. 2: it keeps both (Mimir, Cortex: the tenant's HA "
                           "tracking, accept_ha_samples, is off; Thanos: deduplicated at query time, expected)."),
        timeseries("Pending Samples and Shards", [
            q('sum by (remote_name) (prometheus_remote_storage_samples_pending{job="prometheus"})', "pending {{remote_name}}"),
            q('max by (remote_name) (prometheus_remote_storage_shards{job="prometheus"})', "shards {{remote_name}}"),
            q('max by (remote_name) (prometheus_remote_storage_shards_desired{job="prometheus"})',
              "desired {{remote_name}}"),
            q('max by (remote_name) (prometheus_remote_storage_shards_max{job="prometheus"})', "max {{remote_name}}"),
        ], w=8),
    )
    d.row("Tempo")
    d.add(
        timeseries("Spans Received", [
            q('sum(rate(tempo_distributor_spans_received_total{job="tempo"}[$__rate_interval]))', "spans/s"),
        ], w=12),
        timeseries("Traces Created and Generator Output", [
            q('sum(rate(tempo_ingester_traces_created_total{job="tempo"}[$__rate_interval]))', "traces/s"),
            q('sum(tempo_metrics_generator_registry_active_series{job="tempo"})', "generator active series"),
        ], w=12),
    )
    # Left out of stacks without tracing.collector (components/builders/features.py).
    d.row("OpenTelemetry Collector")
    d.add(
        timeseries("Spans In, Out and Refused", [
            q('sum(rate(otelcol_receiver_accepted_spans{job="otel-collector"}[$__rate_interval]))', "accepted"),
            q('sum(rate(otelcol_receiver_refused_spans{job="otel-collector"}[$__rate_interval]))', "refused"),
            q('sum(rate(otelcol_exporter_sent_spans{job="otel-collector"}[$__rate_interval]))', "sent to Tempo"),
            q('sum(rate(otelcol_exporter_send_failed_spans{job="otel-collector"}[$__rate_interval]))', "dropped"),
        ], w=8, description="Accepted minus sent is what tail sampling left out; refused is the memory limiter; "
                           "dropped was given up on after the retry budget."),
        timeseries("Traces Kept by Policy", [
            q('sum by (policy) (rate(otelcol_processor_tail_sampling_count_traces_sampled'
              '{job="otel-collector", sampled="true"}[$__rate_interval]))', "{{policy}}"),
            q('sum(rate(otelcol_processor_tail_sampling_global_count_traces_sampled'
              '{job="otel-collector", sampled="true"}[$__rate_interval]))', "kept (any policy)"),
            q('sum(rate(otelcol_processor_tail_sampling_global_count_traces_sampled'
              '{job="otel-collector"}[$__rate_interval]))', "decided"),
            q('sum(rate(otelcol_processor_tail_sampling_sampling_trace_dropped_too_early'
              '{job="otel-collector"}[$__rate_interval]))', "evicted undecided"),
        ], w=8, description="A trace is kept when any policy keeps it: errors, slow, or the healthy share. "
                           "Evicted undecided: more traces/s than numTraces/decisionWait; they are lost."),
        timeseries("Queue to Tempo and Memory", [
            q('max by (instance) (otelcol_exporter_queue_size{job="otel-collector"})', "queued batches {{instance}}"),
            q('max by (instance) (otelcol_exporter_queue_capacity{job="otel-collector"})', "capacity {{instance}}"),
            q('max by (instance) (otelcol_processor_tail_sampling_sampling_traces_on_memory{job="otel-collector"})',
              "traces held {{instance}}"),
        ], w=8, description="The queue fills while Tempo is away; traces held grow with traffic x decisionWait."),
    )
    d.row("Scraping")
    d.add(
        table("Scrape Health by Job", [
            q("min by (job) (up)", instant=True, fmt="table"),
            q("max by (job) (scrape_duration_seconds)", instant=True, fmt="table"),
            q("sum by (job) (scrape_samples_scraped)", instant=True, fmt="table"),
        ], w=12, h=9),
        timeseries("Scrape Duration by Job", [q("max by (job) (scrape_duration_seconds)", "{{job}}")], unit="s", w=12, h=9),
    )
    return d.build()
