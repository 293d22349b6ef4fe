// Package slo holds the alerting rules of the orders service's availability SLO: 99.9% of requests over 30 days
// are not a server error (5xx). The error budget is therefore 0.1% of the requests; the alerts page when the
// budget burns too fast, over two windows at once (the Google SRE workbook's multi-window, multi-burn-rate
// alerts). The rules read http_requests_total{job, method, route, code} from 09-metrics.
//
// Rules is a Prometheus rules file, kept in a Go string so that labctl can check, reset and diff it like
// any other exercise file. The tests run `promtool check rules` and `promtool test rules` on it.
package slo

// Rules is the rules file (YAML). Edit it where it says TODO.
const Rules = `
groups:
  # Recording rules: the error ratio (5xx / all requests) of each job over each window the alerts need.
  # 4xx are the client's mistakes and stay out of the numerator; the denominator is every request.
  - name: orders-slo-ratios
    rules:
      - record: job:slo_errors_per_request:ratio_rate5m
        expr: sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m]))
      - record: job:slo_errors_per_request:ratio_rate30m
        expr: sum by (job) (rate(http_requests_total{code=~"5.."}[30m])) / sum by (job) (rate(http_requests_total[30m]))
      - record: job:slo_errors_per_request:ratio_rate1h
        expr: sum by (job) (rate(http_requests_total{code=~"5.."}[1h])) / sum by (job) (rate(http_requests_total[1h]))
      - record: job:slo_errors_per_request:ratio_rate6h
        expr: sum by (job) (rate(http_requests_total{code=~"5.."}[6h])) / sum by (job) (rate(http_requests_total[6h]))

  # Alerts: both page, so each needs a long window (is the budget really burning?) and a short one (is it still
  # burning now?). Thresholds are a burn rate times the error budget, 1 - 0.999.
  - name: orders-slo-alerts
    rules:
      - alert: OrdersErrorBudgetFastBurn
        # 14.4x for 1h spends 2% of the 30-day budget; the 5m window (1/12 of the long one) ends the alert
        # minutes after the errors stop, instead of an hour later.
        expr: |
          job:slo_errors_per_request:ratio_rate1h > (14.4 * 0.001)
          and
          job:slo_errors_per_request:ratio_rate5m > (14.4 * 0.001)
        labels:
          severity: page
        annotations:
          summary: "orders is burning its 30-day error budget 14.4x too fast"
      - alert: OrdersErrorBudgetSlowBurn
        # 6x for 6h spends 5% of the budget; confirmed by the 30m window.
        expr: |
          job:slo_errors_per_request:ratio_rate6h > (6 * 0.001)
          and
          job:slo_errors_per_request:ratio_rate30m > (6 * 0.001)
        labels:
          severity: page
        annotations:
          summary: "orders is burning its 30-day error budget 6x too fast"
`
