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
  - name: orders-slo-ratios
    rules:
      # TODO(09-slo): record job:slo_errors_per_request:ratio_rate5m, ..._rate30m, ..._rate1h and ..._rate6h: per job, the rate of 5xx requests divided by the rate of all requests over that window.
      []

  # Alerts: both page, so each needs a long window (is the budget really burning?) and a short one (is it still
  # burning now?). Thresholds are a burn rate times the error budget, 1 - 0.999.
  - name: orders-slo-alerts
    rules:
      - alert: OrdersErrorBudgetFastBurn
        # TODO(09-slo): fire when the 1h and the 5m error ratios both burn the budget 14.4 times too fast (2% of 30 days' budget in one hour).
        expr: vector(0) > 1
        labels:
          severity: page
        annotations:
          summary: "orders is burning its 30-day error budget 14.4x too fast"
      - alert: OrdersErrorBudgetSlowBurn
        # TODO(09-slo): fire when the 6h and the 30m error ratios both burn the budget 6 times too fast (5% of the budget in six hours).
        expr: vector(0) > 1
        labels:
          severity: page
        annotations:
          summary: "orders is burning its 30-day error budget 6x too fast"
`
