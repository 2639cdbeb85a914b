-- Generated from openai_sync/analytics/models/key_inventory.sql by `python -m openai_sync.analytics.dbt`: edit that file, not this one.
{{ config(materialized='view') }}
{% if target.type == 'postgres' %}
/* Every current admin key, project key and service account, with its owner, age, last use and flags. Ages and */
/* "unused" are counted to the time the view is read (now). */
SELECT
  i.kind,
  i.id,
  i.name,
  i.organization_id,
  i.project_id,
  i.owner_type,
  i.owner_id,
  i.owner,
  i.created_at,
  i.last_used_at,
  CAST((
    CAST(CURRENT_TIMESTAMP AS DATE) - CAST(i.created_at AS DATE)
  ) AS BIGINT) AS age_days,
  i.last_used_at IS NULL AND i.kind <> 'service_account' AS never_used,
  i.kind <> 'service_account'
  AND COALESCE(i.last_used_at, i.created_at) < CURRENT_TIMESTAMP - INTERVAL '30 DAY' AS unused_30_days,
  i.kind <> 'service_account'
  AND COALESCE(i.last_used_at, i.created_at) < CURRENT_TIMESTAMP - INTERVAL '90 DAY' AS unused_90_days,
  i.owner_type = 'user'
  AND NOT i.owner_id IN (
    SELECT
      id
    FROM {{ openai_sync_current('users') }} AS x
  ) AS owner_removed
FROM (
  SELECT
    'project_key' AS kind,
    id,
    name,
    organization_id,
    project_id,
    owner__type AS owner_type,
    COALESCE(owner__user__id, owner__service_account__id) AS owner_id,
    COALESCE(owner__user__email, owner__service_account__name) AS owner,
    created_at,
    last_used_at
  FROM {{ openai_sync_current('project_api_keys') }} AS x
  UNION ALL
  SELECT
    'admin_key',
    id,
    name,
    organization_id,
    NULL,
    owner__type,
    owner__id,
    owner__name,
    created_at,
    last_used_at
  FROM {{ openai_sync_current('admin_api_keys') }} AS x
  UNION ALL
  SELECT
    'service_account',
    id,
    name,
    organization_id,
    project_id,
    'service_account',
    id,
    name,
    created_at,
    NULL
  FROM {{ openai_sync_current('project_service_accounts') }} AS x
) AS i
{% else %}
/* Every current admin key, project key and service account, with its owner, age, last use and flags. Ages and */
/* "unused" are counted to the time the view is read (now). */
SELECT
  i.kind,
  i.id,
  i.name,
  i.organization_id,
  i.project_id,
  i.owner_type,
  i.owner_id,
  i.owner,
  i.created_at,
  i.last_used_at,
  CAST(DATE_DIFF('DAY', i.created_at, CURRENT_TIMESTAMP) AS BIGINT) AS age_days,
  i.last_used_at IS NULL AND i.kind <> 'service_account' AS never_used,
  i.kind <> 'service_account'
  AND COALESCE(i.last_used_at, i.created_at) < CURRENT_TIMESTAMP - INTERVAL '30' DAY AS unused_30_days,
  i.kind <> 'service_account'
  AND COALESCE(i.last_used_at, i.created_at) < CURRENT_TIMESTAMP - INTERVAL '90' DAY AS unused_90_days,
  i.owner_type = 'user'
  AND NOT i.owner_id IN (
    SELECT
      id
    FROM {{ openai_sync_current('users') }} AS x
  ) AS owner_removed
FROM (
  SELECT
    'project_key' AS kind,
    id,
    name,
    organization_id,
    project_id,
    owner__type AS owner_type,
    COALESCE(owner__user__id, owner__service_account__id) AS owner_id,
    COALESCE(owner__user__email, owner__service_account__name) AS owner,
    created_at,
    last_used_at
  FROM {{ openai_sync_current('project_api_keys') }} AS x
  UNION ALL
  SELECT
    'admin_key',
    id,
    name,
    organization_id,
    NULL,
    owner__type,
    owner__id,
    owner__name,
    created_at,
    last_used_at
  FROM {{ openai_sync_current('admin_api_keys') }} AS x
  UNION ALL
  SELECT
    'service_account',
    id,
    name,
    organization_id,
    project_id,
    'service_account',
    id,
    name,
    created_at,
    NULL
  FROM {{ openai_sync_current('project_service_accounts') }} AS x
) AS i
{% endif %}
