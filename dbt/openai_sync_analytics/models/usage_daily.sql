-- Generated from openai_sync/analytics/models/usage_daily.sql by `python -m openai_sync.analytics.dbt`: edit that file, not this one.
{{ config(materialized='view') }}
{% if target.type == 'postgres' %}
/* Tokens and requests per day, usage table, project, model, API key and user, for the token-metered usage tables */
/* (completions, embeddings, moderations). */
SELECT
  CAST(u.start_time AT TIME ZONE 'UTC' AS DATE) AS day,
  u.source,
  u.organization_id,
  u.project_id,
  u.model,
  u.api_key_id,
  u.user_id,
  SUM(u.input_tokens) AS input_tokens,
  SUM(u.output_tokens) AS output_tokens,
  SUM(u.input_cached_tokens) AS input_cached_tokens,
  SUM(u.num_model_requests) AS requests
FROM (
  SELECT
    'completions' AS source,
    start_time,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    input_tokens,
    output_tokens,
    input_cached_tokens,
    num_model_requests
  FROM {{ source('openai_sync', 'usage_completions') }} AS x
  UNION ALL
  SELECT
    'embeddings',
    start_time,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    input_tokens,
    0,
    0,
    num_model_requests
  FROM {{ source('openai_sync', 'usage_embeddings') }} AS x
  UNION ALL
  SELECT
    'moderations',
    start_time,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    input_tokens,
    0,
    0,
    num_model_requests
  FROM {{ source('openai_sync', 'usage_moderations') }} AS x
) AS u
GROUP BY
  1,
  2,
  3,
  4,
  5,
  6,
  7
{% else %}
/* Tokens and requests per day, usage table, project, model, API key and user, for the token-metered usage tables */
/* (completions, embeddings, moderations). */
SELECT
  CAST(u.start_time AT TIME ZONE 'UTC' AS DATE) AS day,
  u.source,
  u.organization_id,
  u.project_id,
  u.model,
  u.api_key_id,
  u.user_id,
  SUM(u.input_tokens) AS input_tokens,
  SUM(u.output_tokens) AS output_tokens,
  SUM(u.input_cached_tokens) AS input_cached_tokens,
  SUM(u.num_model_requests) AS requests
FROM (
  SELECT
    'completions' AS source,
    start_time,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    input_tokens,
    output_tokens,
    input_cached_tokens,
    num_model_requests
  FROM {{ source('openai_sync', 'usage_completions') }} AS x
  UNION ALL
  SELECT
    'embeddings',
    start_time,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    input_tokens,
    0,
    0,
    num_model_requests
  FROM {{ source('openai_sync', 'usage_embeddings') }} AS x
  UNION ALL
  SELECT
    'moderations',
    start_time,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    input_tokens,
    0,
    0,
    num_model_requests
  FROM {{ source('openai_sync', 'usage_moderations') }} AS x
) AS u
GROUP BY
  1,
  2,
  3,
  4,
  5,
  6,
  7
{% endif %}
