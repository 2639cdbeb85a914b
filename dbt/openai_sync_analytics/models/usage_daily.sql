-- Generated from openai_sync/analytics/models/usage_daily.sql by `python -m openai_sync.analytics.dbt`: edit that file, not this one.
{{ config(materialized='view') }}
{% if target.type == 'postgres' %}
/* Usage per day, usage table (source), project, model, API key and user, across every usage table: tokens and */
/* model requests (completions, decisions, embeddings, moderations), images, characters (speech), seconds */
/* (transcriptions), tool calls (web and file search), code interpreter sessions and vector store bytes; a metric */
/* a table does not have is 0. usd_per_million_tokens: that day's spend on the model's token line items over its */
/* tokens (every project), where usage and cost meet. */
WITH u AS (
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
    num_model_requests AS requests,
    0 AS images,
    0 AS characters,
    0 AS seconds,
    0 AS tool_calls,
    0 AS sessions,
    0 AS usage_bytes
  FROM {{ source('openai_sync', 'usage_completions') }} AS x
  UNION ALL
  SELECT
    'decisions',
    start_time,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    input_tokens,
    output_tokens,
    input_cached_tokens,
    num_model_requests,
    0,
    0,
    0,
    0,
    0,
    0
  FROM {{ source('openai_sync', 'usage_decisions') }} AS x
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
    num_model_requests,
    0,
    0,
    0,
    0,
    0,
    0
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
    num_model_requests,
    0,
    0,
    0,
    0,
    0,
    0
  FROM {{ source('openai_sync', 'usage_moderations') }} AS x
  UNION ALL
  SELECT
    'images',
    start_time,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    0,
    0,
    0,
    num_model_requests,
    images,
    0,
    0,
    0,
    0,
    0
  FROM {{ source('openai_sync', 'usage_images') }} AS x
  UNION ALL
  SELECT
    'audio_speeches',
    start_time,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    0,
    0,
    0,
    num_model_requests,
    0,
    characters,
    0,
    0,
    0,
    0
  FROM {{ source('openai_sync', 'usage_audio_speeches') }} AS x
  UNION ALL
  SELECT
    'audio_transcriptions',
    start_time,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    0,
    0,
    0,
    num_model_requests,
    0,
    0,
    seconds,
    0,
    0,
    0
  FROM {{ source('openai_sync', 'usage_audio_transcriptions') }} AS x
  UNION ALL
  SELECT
    'web_search_calls',
    start_time,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    0,
    0,
    0,
    num_model_requests,
    0,
    0,
    0,
    num_requests,
    0,
    0
  FROM {{ source('openai_sync', 'usage_web_search_calls') }} AS x
  UNION ALL
  SELECT
    'file_search_calls',
    start_time,
    organization_id,
    project_id,
    CAST(NULL AS TEXT),
    api_key_id,
    user_id,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    num_requests,
    0,
    0
  FROM {{ source('openai_sync', 'usage_file_search_calls') }} AS x
  UNION ALL
  SELECT
    'code_interpreter_sessions',
    start_time,
    organization_id,
    project_id,
    CAST(NULL AS TEXT),
    CAST(NULL AS TEXT),
    CAST(NULL AS TEXT),
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    num_sessions,
    0
  FROM {{ source('openai_sync', 'usage_code_interpreter_sessions') }} AS x
  UNION ALL
  SELECT
    'vector_stores',
    start_time,
    organization_id,
    project_id,
    CAST(NULL AS TEXT),
    CAST(NULL AS TEXT),
    CAST(NULL AS TEXT),
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    usage_bytes
  FROM {{ source('openai_sync', 'usage_vector_stores') }} AS x
), daily AS (
  SELECT
    CAST(start_time AT TIME ZONE 'UTC' AS DATE) AS day,
    source,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    SUM(input_tokens) AS input_tokens,
    SUM(output_tokens) AS output_tokens,
    SUM(input_cached_tokens) AS input_cached_tokens,
    SUM(requests) AS requests,
    SUM(images) AS images,
    SUM(characters) AS characters,
    SUM(seconds) AS seconds,
    SUM(tool_calls) AS tool_calls,
    SUM(sessions) AS sessions,
    SUM(usage_bytes) AS usage_bytes
  FROM u
  GROUP BY
    1,
    2,
    3,
    4,
    5,
    6,
    7
), tokens AS (
  SELECT
    day,
    model,
    SUM(input_tokens + output_tokens) AS tokens
  FROM daily
  WHERE
    source IN ('completions', 'decisions', 'embeddings')
  GROUP BY
    day,
    model
), spend AS (
  SELECT
    day,
    model,
    SUM(amount) AS amount
  FROM {{ ref('spend_daily') }} AS x
  WHERE
    NOT model IS NULL AND (
      line_item LIKE '%input' OR line_item LIKE '%output'
    )
  GROUP BY
    day,
    model
)
SELECT
  d.*,
  CASE
    WHEN t.tokens > 0
    THEN CAST(CAST(s.amount AS DOUBLE PRECISION) * 1000000 AS DOUBLE PRECISION) / t.tokens
  END AS usd_per_million_tokens
FROM daily AS d
LEFT JOIN tokens AS t
  ON t.day = d.day
  AND t.model = d.model
  AND d.source IN ('completions', 'decisions', 'embeddings')
LEFT JOIN spend AS s
  ON s.day = d.day
  AND s.model = d.model
  AND d.source IN ('completions', 'decisions', 'embeddings')
{% else %}
/* Usage per day, usage table (source), project, model, API key and user, across every usage table: tokens and */
/* model requests (completions, decisions, embeddings, moderations), images, characters (speech), seconds */
/* (transcriptions), tool calls (web and file search), code interpreter sessions and vector store bytes; a metric */
/* a table does not have is 0. usd_per_million_tokens: that day's spend on the model's token line items over its */
/* tokens (every project), where usage and cost meet. */
WITH u AS (
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
    num_model_requests AS requests,
    0 AS images,
    0 AS characters,
    0 AS seconds,
    0 AS tool_calls,
    0 AS sessions,
    0 AS usage_bytes
  FROM {{ source('openai_sync', 'usage_completions') }} AS x
  UNION ALL
  SELECT
    'decisions',
    start_time,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    input_tokens,
    output_tokens,
    input_cached_tokens,
    num_model_requests,
    0,
    0,
    0,
    0,
    0,
    0
  FROM {{ source('openai_sync', 'usage_decisions') }} AS x
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
    num_model_requests,
    0,
    0,
    0,
    0,
    0,
    0
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
    num_model_requests,
    0,
    0,
    0,
    0,
    0,
    0
  FROM {{ source('openai_sync', 'usage_moderations') }} AS x
  UNION ALL
  SELECT
    'images',
    start_time,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    0,
    0,
    0,
    num_model_requests,
    images,
    0,
    0,
    0,
    0,
    0
  FROM {{ source('openai_sync', 'usage_images') }} AS x
  UNION ALL
  SELECT
    'audio_speeches',
    start_time,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    0,
    0,
    0,
    num_model_requests,
    0,
    characters,
    0,
    0,
    0,
    0
  FROM {{ source('openai_sync', 'usage_audio_speeches') }} AS x
  UNION ALL
  SELECT
    'audio_transcriptions',
    start_time,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    0,
    0,
    0,
    num_model_requests,
    0,
    0,
    seconds,
    0,
    0,
    0
  FROM {{ source('openai_sync', 'usage_audio_transcriptions') }} AS x
  UNION ALL
  SELECT
    'web_search_calls',
    start_time,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    0,
    0,
    0,
    num_model_requests,
    0,
    0,
    0,
    num_requests,
    0,
    0
  FROM {{ source('openai_sync', 'usage_web_search_calls') }} AS x
  UNION ALL
  SELECT
    'file_search_calls',
    start_time,
    organization_id,
    project_id,
    CAST(NULL AS TEXT),
    api_key_id,
    user_id,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    num_requests,
    0,
    0
  FROM {{ source('openai_sync', 'usage_file_search_calls') }} AS x
  UNION ALL
  SELECT
    'code_interpreter_sessions',
    start_time,
    organization_id,
    project_id,
    CAST(NULL AS TEXT),
    CAST(NULL AS TEXT),
    CAST(NULL AS TEXT),
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    num_sessions,
    0
  FROM {{ source('openai_sync', 'usage_code_interpreter_sessions') }} AS x
  UNION ALL
  SELECT
    'vector_stores',
    start_time,
    organization_id,
    project_id,
    CAST(NULL AS TEXT),
    CAST(NULL AS TEXT),
    CAST(NULL AS TEXT),
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    usage_bytes
  FROM {{ source('openai_sync', 'usage_vector_stores') }} AS x
), daily AS (
  SELECT
    CAST(start_time AT TIME ZONE 'UTC' AS DATE) AS day,
    source,
    organization_id,
    project_id,
    model,
    api_key_id,
    user_id,
    SUM(input_tokens) AS input_tokens,
    SUM(output_tokens) AS output_tokens,
    SUM(input_cached_tokens) AS input_cached_tokens,
    SUM(requests) AS requests,
    SUM(images) AS images,
    SUM(characters) AS characters,
    SUM(seconds) AS seconds,
    SUM(tool_calls) AS tool_calls,
    SUM(sessions) AS sessions,
    SUM(usage_bytes) AS usage_bytes
  FROM u
  GROUP BY
    1,
    2,
    3,
    4,
    5,
    6,
    7
), tokens AS (
  SELECT
    day,
    model,
    SUM(input_tokens + output_tokens) AS tokens
  FROM daily
  WHERE
    source IN ('completions', 'decisions', 'embeddings')
  GROUP BY
    day,
    model
), spend AS (
  SELECT
    day,
    model,
    SUM(amount) AS amount
  FROM {{ ref('spend_daily') }} AS x
  WHERE
    NOT model IS NULL AND (
      line_item LIKE '%input' OR line_item LIKE '%output'
    )
  GROUP BY
    day,
    model
)
SELECT
  d.*,
  CASE WHEN t.tokens > 0 THEN CAST(s.amount AS DOUBLE) * 1000000 / t.tokens END AS usd_per_million_tokens
FROM daily AS d
LEFT JOIN tokens AS t
  ON t.day = d.day
  AND t.model = d.model
  AND d.source IN ('completions', 'decisions', 'embeddings')
LEFT JOIN spend AS s
  ON s.day = d.day
  AND s.model = d.model
  AND d.source IN ('completions', 'decisions', 'embeddings')
{% endif %}
