-- Generated from openai_sync/analytics/models/spend_daily.sql by `python -m openai_sync.analytics.dbt`: edit that file, not this one.
{{ config(materialized='view') }}
{% if target.type == 'postgres' %}
/* Spend per day, project, line item, model, API key and user, in the costs' currency; sums to the costs table. */
/* model: the line item's model where it names one ("gpt-4o-2024-08-06, input" -> gpt-4o-2024-08-06). */
SELECT
  CAST(c.start_time AT TIME ZONE 'UTC' AS DATE) AS day,
  c.organization_id,
  c.project_id,
  p.name AS project_name,
  c.line_item,
  CASE
    WHEN POSITION(', ' IN c.line_item) > 0
    THEN SPLIT_PART(c.line_item, ', ', 1)
  END AS model,
  c.api_key_id,
  k.name AS api_key_name,
  c.user_id,
  c.currency,
  SUM(c.amount) AS amount,
  SUM(c.quantity) AS quantity,
  COUNT(*) AS buckets
FROM {{ source('openai_sync', 'costs') }} AS c
LEFT JOIN (
  SELECT
    id,
    MAX(name) AS name
  FROM {{ openai_sync_current('projects') }} AS x
  GROUP BY
    id
) AS p
  ON p.id = c.project_id
LEFT JOIN (
  SELECT
    id,
    MAX(name) AS name
  FROM {{ openai_sync_current('project_api_keys') }} AS x
  GROUP BY
    id
) AS k
  ON k.id = c.api_key_id
GROUP BY
  1,
  2,
  3,
  4,
  5,
  6,
  7,
  8,
  9,
  10
{% else %}
/* Spend per day, project, line item, model, API key and user, in the costs' currency; sums to the costs table. */
/* model: the line item's model where it names one ("gpt-4o-2024-08-06, input" -> gpt-4o-2024-08-06). */
SELECT
  CAST(c.start_time AT TIME ZONE 'UTC' AS DATE) AS day,
  c.organization_id,
  c.project_id,
  p.name AS project_name,
  c.line_item,
  CASE WHEN STRPOS(c.line_item, ', ') > 0 THEN SPLIT_PART(c.line_item, ', ', 1) END AS model,
  c.api_key_id,
  k.name AS api_key_name,
  c.user_id,
  c.currency,
  SUM(c.amount) AS amount,
  SUM(c.quantity) AS quantity,
  COUNT(*) AS buckets
FROM {{ source('openai_sync', 'costs') }} AS c
LEFT JOIN (
  SELECT
    id,
    MAX(name) AS name
  FROM {{ openai_sync_current('projects') }} AS x
  GROUP BY
    id
) AS p
  ON p.id = c.project_id
LEFT JOIN (
  SELECT
    id,
    MAX(name) AS name
  FROM {{ openai_sync_current('project_api_keys') }} AS x
  GROUP BY
    id
) AS k
  ON k.id = c.api_key_id
GROUP BY
  1,
  2,
  3,
  4,
  5,
  6,
  7,
  8,
  9,
  10
{% endif %}
