"""Traces: Tempo's service graph and span metrics, linked to the traces behind them.

The only exemplars in the stack are here: the span-latency buckets carry trace ids. Shannon's own histograms carry none (its services record no
exemplars, and the Go and Rust endpoints serve the text format, which cannot carry them).

The span metrics (`traces_spanmetrics_*`) count every span: with the OpenTelemetry Collector they are
computed there before tail sampling and scraped, without it Tempo's metrics-generator remote-writes them.
The service-graph series (`traces_service_graph_*`) come from Tempo's generator, which sees only the traces
the collector kept. The panels read 1-minute recorded 5m rates (rules/dashboards.generated.yml). Data links
open the matching traces in Explore.
"""

from __future__ import annotations

from typing import Any

from dashboards.lib import Dashboard, exemplars, explore_traces_link, node_graph, q, table, tempo_query, timeseries

UID = "shannon-traces"
CALLS = "service_status_code:traces_spanmetrics_calls:rate5m"


def build() -> dict[str, Any]:
    d = Dashboard(UID, "Shannon / Traces", "Service graph and span RED metrics from Tempo, with links into traces.",
                  ["traces", "tempo"])
    service_link = [explore_traces_link("Traces of ${__field.labels.service}",
                                        '{resource.service.name="${__field.labels.service}"}')]
    d.add(node_graph("Service Graph", [tempo_query("serviceMap")], h=12,
                     description="Calls between Shannon services, from Tempo's service-graph processor. Behind "
                                 "the OpenTelemetry Collector it sees the kept traces only (every error and slow "
                                 "trace, a share of the rest): the edges are right, the rates are not traffic; "
                                 "the span panels below are."))
    d.add(
        timeseries("Span Rate by Service", [
            q(f"sum by (service) ({CALLS})", "{{service}}"),
        ], unit="reqps", w=8, links=service_link),
        timeseries("Span Error Ratio by Service", [
            q(f'sum by (service) ({CALLS}{{status_code="STATUS_CODE_ERROR"}}) / (sum by (service) ({CALLS}) > 0)',
              "{{service}}"),
        ], unit="percentunit", w=8, links=[explore_traces_link(
            "Failed traces of ${__field.labels.service}",
            '{resource.service.name="${__field.labels.service}" && status=error}')]),
        timeseries("Span P95 Latency by Service", [
            q("histogram_quantile(0.95, sum by (service, le) (service_le:traces_spanmetrics_latency_bucket:rate5m))",
              "{{service}}"),
            exemplars("traces_spanmetrics_latency", by="service"),
        ], unit="s", w=8, links=service_link),
    )
    d.add(
        timeseries("Service Graph Requests", [
            q("sum by (client, server) (client_server:traces_service_graph_request:rate5m)", "{{client}} -> {{server}}"),
            q("sum by (client, server) (client_server:traces_service_graph_request_failed:rate5m)",
              "failed {{client}} -> {{server}}"),
        ], unit="reqps", w=12, description="Of the traces Tempo stores: behind the collector's tail sampling, "
                                           "errors are over-represented on purpose; read rates and error ratios "
                                           "from the span panels."),
        table("Slowest Operations (P95)", [
            q("topk(15, histogram_quantile(0.95, sum by (service, span_name, le) (rate(traces_spanmetrics_latency_bucket[$__range]))))",
              instant=True, fmt="table"),
        ], unit="s", w=12, sort_by="Value", links=[explore_traces_link(
            "Traces of ${__data.fields.span_name}",
            '{resource.service.name="${__data.fields.service}" && name="${__data.fields.span_name}"}')]),
    )
    # A TraceQL search spans at most query_frontend.search.max_duration (168h by default), less
    # than the dashboard's longest ranges: this panel looks at the last hour whatever the range.
    recent = table("Recent Error Traces", [tempo_query("traceql", "{ status = error }", limit=20, tableType="traces")],
                   w=24, h=9, description="The latest traces with an error span, over the last hour; click a trace id "
                                          "to open it.")
    recent.body["timeFrom"] = "1h"
    d.add(recent)
    return d.build()
