-- Generated from openai_sync/analytics/models/spend_anomalies.sql by `python -m openai_sync.analytics.dbt`: edit that file, not this one.
{{ config(materialized='view') }}
{% if target.type == 'postgres' %}
/* Days whose spend, per project and per API key, departs from the trailing 28 days of spend: a robust z-score */
/* (spend - median) / (1.4826 x MAD, at least 5% of the median and at least 0.01), where MAD is the median */
/* absolute deviation of those days. A day is an anomaly when |z| > 3.5 with at least 7 earlier days of spend. */
/* Only days with spend count (a day without any is not a zero in the baseline). */
WITH daily AS (
  SELECT
    'project' AS dimension,
    organization_id,
    project_id AS value,
    day,
    SUM(amount) AS amount
  FROM {{ ref('spend_daily') }} AS x
  GROUP BY
    organization_id,
    project_id,
    day
  UNION ALL
  SELECT
    'api_key',
    organization_id,
    api_key_id,
    day,
    SUM(amount)
  FROM {{ ref('spend_daily') }} AS x
  WHERE
    NOT api_key_id IS NULL
  GROUP BY
    organization_id,
    api_key_id,
    day
), base AS (
  SELECT
    d.dimension,
    d.organization_id,
    d.value,
    d.day,
    d.amount,
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY
      h.amount) AS baseline,
    COUNT(h.amount) AS history_days
  FROM daily AS d
  JOIN daily AS h
    ON h.dimension = d.dimension
    AND h.organization_id IS NOT DISTINCT FROM d.organization_id
    AND h.value IS NOT DISTINCT FROM d.value
    AND h.day < d.day
    AND h.day >= d.day - 28
  GROUP BY
    d.dimension,
    d.organization_id,
    d.value,
    d.day,
    d.amount
), spread AS (
  SELECT
    b.dimension,
    b.organization_id,
    b.value,
    b.day,
    b.amount,
    b.baseline,
    b.history_days,
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY
      ABS(h.amount - b.baseline)) AS mad
  FROM base AS b
  JOIN daily AS h
    ON h.dimension = b.dimension
    AND h.organization_id IS NOT DISTINCT FROM b.organization_id
    AND h.value IS NOT DISTINCT FROM b.value
    AND h.day < b.day
    AND h.day >= b.day - 28
  GROUP BY
    b.dimension,
    b.organization_id,
    b.value,
    b.day,
    b.amount,
    b.baseline,
    b.history_days
)
SELECT
  dimension,
  organization_id,
  value,
  day,
  amount,
  baseline,
  mad,
  history_days,
  CAST((
    amount - baseline
  ) AS DOUBLE PRECISION) / GREATEST(1.4826 * mad, 0.05 * ABS(baseline), 0.01) AS robust_z,
  history_days >= 7
  AND ABS(
    CAST((
      amount - baseline
    ) AS DOUBLE PRECISION) / GREATEST(1.4826 * mad, 0.05 * ABS(baseline), 0.01)
  ) > 3.5 AS anomaly
FROM spread
{% else %}
/* Days whose spend, per project and per API key, departs from the trailing 28 days of spend: a robust z-score */
/* (spend - median) / (1.4826 x MAD, at least 5% of the median and at least 0.01), where MAD is the median */
/* absolute deviation of those days. A day is an anomaly when |z| > 3.5 with at least 7 earlier days of spend. */
/* Only days with spend count (a day without any is not a zero in the baseline). */
WITH daily AS (
  SELECT
    'project' AS dimension,
    organization_id,
    project_id AS value,
    day,
    SUM(amount) AS amount
  FROM {{ ref('spend_daily') }} AS x
  GROUP BY
    organization_id,
    project_id,
    day
  UNION ALL
  SELECT
    'api_key',
    organization_id,
    api_key_id,
    day,
    SUM(amount)
  FROM {{ ref('spend_daily') }} AS x
  WHERE
    NOT api_key_id IS NULL
  GROUP BY
    organization_id,
    api_key_id,
    day
), base AS (
  SELECT
    d.dimension,
    d.organization_id,
    d.value,
    d.day,
    d.amount,
    MEDIAN(h.amount) AS baseline,
    COUNT(h.amount) AS history_days
  FROM daily AS d
  JOIN daily AS h
    ON h.dimension = d.dimension
    AND h.organization_id IS NOT DISTINCT FROM d.organization_id
    AND h.value IS NOT DISTINCT FROM d.value
    AND h.day < d.day
    AND h.day >= d.day - 28
  GROUP BY
    d.dimension,
    d.organization_id,
    d.value,
    d.day,
    d.amount
), spread AS (
  SELECT
    b.dimension,
    b.organization_id,
    b.value,
    b.day,
    b.amount,
    b.baseline,
    b.history_days,
    MEDIAN(ABS(h.amount - b.baseline)) AS mad
  FROM base AS b
  JOIN daily AS h
    ON h.dimension = b.dimension
    AND h.organization_id IS NOT DISTINCT FROM b.organization_id
    AND h.value IS NOT DISTINCT FROM b.value
    AND h.day < b.day
    AND h.day >= b.day - 28
  GROUP BY
    b.dimension,
    b.organization_id,
    b.value,
    b.day,
    b.amount,
    b.baseline,
    b.history_days
)
SELECT
  dimension,
  organization_id,
  value,
  day,
  amount,
  baseline,
  mad,
  history_days,
  (
    amount - baseline
  ) / GREATEST(1.4826 * mad, 0.05 * ABS(baseline), 0.01) AS robust_z,
  history_days >= 7
  AND ABS((
    amount - baseline
  ) / GREATEST(1.4826 * mad, 0.05 * ABS(baseline), 0.01)) > 3.5 AS anomaly
FROM spread
{% endif %}
