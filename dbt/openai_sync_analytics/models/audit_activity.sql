-- Generated from openai_sync/analytics/models/audit_activity.sql by `python -m openai_sync.analytics.dbt`: edit that file, not this one.
{{ config(materialized='view') }}
{% if target.type == 'postgres' %}
/* Sensitive audit events (keys, roles, members, settings, login failures) per day (UTC), category, type, actor */
/* and project. Other events (successful logins, reads) are left out. */
SELECT
  e.day,
  e.organization_id,
  e.category,
  e.type,
  e.actor_type,
  e.actor,
  e.project_id,
  MAX(e.project_name) AS project_name,
  COUNT(*) AS events,
  MIN(e.effective_at) AS first_at,
  MAX(e.effective_at) AS last_at
FROM (
  SELECT
    CAST(a.effective_at AT TIME ZONE 'UTC' AS DATE) AS day,
    a.organization_id,
    CASE
      WHEN t IN ('login.failed', 'logout.failed')
      THEN 'login_failures'
      WHEN t LIKE 'api_key.%'
      OR t LIKE 'admin_api_key.%'
      OR t LIKE 'project_api_key.%'
      OR t LIKE 'service_account.%'
      OR t LIKE 'external_key.%'
      OR t LIKE 'certificate%'
      OR t LIKE '%access_token%'
      THEN 'keys'
      WHEN t LIKE 'role%' OR t LIKE 'custom_role.%' OR t LIKE 'resource_role_assignment.%'
      THEN 'roles'
      WHEN t LIKE 'user.%'
      OR t LIKE 'invite.%'
      OR t LIKE 'membership.%'
      OR t LIKE 'group%'
      OR t LIKE '%invite%'
      THEN 'members'
      WHEN t LIKE 'organization.%'
      OR t LIKE 'project.%'
      OR t LIKE 'rate_limit.%'
      OR t LIKE 'ip_allowlist.%'
      OR t LIKE 'scim.%'
      OR t LIKE 'sso%'
      OR t LIKE '%policy%'
      OR t LIKE 'billing.%'
      OR t LIKE 'usage_limit.%'
      OR t LIKE 'external_storage.%'
      OR t LIKE 'checkpoint.permission.%'
      OR t LIKE 'workload_identity%'
      OR t LIKE 'tunnel.%'
      OR t LIKE 'domains.%'
      THEN 'settings'
    END AS category,
    a.type,
    a.actor__type AS actor_type,
    COALESCE(
      a.actor__session__user__email,
      a.actor__api_key__user__email,
      a.actor__api_key__service_account__id,
      a.actor__api_key__id
    ) AS actor,
    a.project__id AS project_id,
    a.project__name AS project_name,
    a.effective_at
  FROM (
    SELECT
      *,
      CASE WHEN type LIKE 'tenant.%' THEN SUBSTRING(type FROM 8) ELSE type END AS t
    FROM {{ source('openai_sync', 'audit_logs') }} AS x
  ) AS a
) AS e
WHERE
  NOT e.category IS NULL
GROUP BY
  e.day,
  e.organization_id,
  e.category,
  e.type,
  e.actor_type,
  e.actor,
  e.project_id
{% else %}
/* Sensitive audit events (keys, roles, members, settings, login failures) per day (UTC), category, type, actor */
/* and project. Other events (successful logins, reads) are left out. */
SELECT
  e.day,
  e.organization_id,
  e.category,
  e.type,
  e.actor_type,
  e.actor,
  e.project_id,
  MAX(e.project_name) AS project_name,
  COUNT(*) AS events,
  MIN(e.effective_at) AS first_at,
  MAX(e.effective_at) AS last_at
FROM (
  SELECT
    CAST(a.effective_at AT TIME ZONE 'UTC' AS DATE) AS day,
    a.organization_id,
    CASE
      WHEN t IN ('login.failed', 'logout.failed')
      THEN 'login_failures'
      WHEN t LIKE 'api_key.%'
      OR t LIKE 'admin_api_key.%'
      OR t LIKE 'project_api_key.%'
      OR t LIKE 'service_account.%'
      OR t LIKE 'external_key.%'
      OR t LIKE 'certificate%'
      OR t LIKE '%access_token%'
      THEN 'keys'
      WHEN t LIKE 'role%' OR t LIKE 'custom_role.%' OR t LIKE 'resource_role_assignment.%'
      THEN 'roles'
      WHEN t LIKE 'user.%'
      OR t LIKE 'invite.%'
      OR t LIKE 'membership.%'
      OR t LIKE 'group%'
      OR t LIKE '%invite%'
      THEN 'members'
      WHEN t LIKE 'organization.%'
      OR t LIKE 'project.%'
      OR t LIKE 'rate_limit.%'
      OR t LIKE 'ip_allowlist.%'
      OR t LIKE 'scim.%'
      OR t LIKE 'sso%'
      OR t LIKE '%policy%'
      OR t LIKE 'billing.%'
      OR t LIKE 'usage_limit.%'
      OR t LIKE 'external_storage.%'
      OR t LIKE 'checkpoint.permission.%'
      OR t LIKE 'workload_identity%'
      OR t LIKE 'tunnel.%'
      OR t LIKE 'domains.%'
      THEN 'settings'
    END AS category,
    a.type,
    a.actor__type AS actor_type,
    COALESCE(
      a.actor__session__user__email,
      a.actor__api_key__user__email,
      a.actor__api_key__service_account__id,
      a.actor__api_key__id
    ) AS actor,
    a.project__id AS project_id,
    a.project__name AS project_name,
    a.effective_at
  FROM (
    SELECT
      *,
      CASE WHEN type LIKE 'tenant.%' THEN SUBSTRING(type, 8) ELSE type END AS t
    FROM {{ source('openai_sync', 'audit_logs') }} AS x
  ) AS a
) AS e
WHERE
  NOT e.category IS NULL
GROUP BY
  e.day,
  e.organization_id,
  e.category,
  e.type,
  e.actor_type,
  e.actor,
  e.project_id
{% endif %}
