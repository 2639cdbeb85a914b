-- Generated from openai_sync/analytics/models/access_review.sql by `python -m openai_sync.analytics.dbt`: edit that file, not this one.
{{ config(materialized='view') }}
{% if target.type == 'postgres' %}
/* Who holds which role: in the organization (membership and role assignments), in each project (membership, */
/* role assignments of users and groups, service accounts) and in each group (members, the group's roles), and */
/* since when (member_since: when they were added or the assignment made). */
WITH people AS (
  SELECT
    id,
    MAX(email) AS email,
    MAX(name) AS name
  FROM {{ openai_sync_current('users') }} AS x
  GROUP BY
    id
), groups_ AS (
  SELECT
    id,
    MAX(name) AS name
  FROM {{ openai_sync_current('groups') }} AS x
  GROUP BY
    id
)
SELECT
  'organization' AS scope,
  u.organization_id,
  NULL AS project_id,
  NULL AS group_id,
  'user' AS principal_type,
  u.id AS principal_id,
  u.email AS principal,
  u.role,
  'membership' AS source,
  u.added_at AS member_since
FROM {{ openai_sync_current('users') }} AS u
UNION ALL
SELECT
  'organization',
  r.organization_id,
  NULL,
  NULL,
  'user',
  r.user_id,
  p.email,
  r.name,
  'role assignment',
  r.created_at
FROM {{ openai_sync_current('user_roles') }} AS r
LEFT JOIN people AS p
  ON p.id = r.user_id
UNION ALL
SELECT
  'organization',
  r.organization_id,
  NULL,
  r.group_id,
  'group',
  r.group_id,
  g.name,
  r.name,
  'role assignment',
  r.created_at
FROM {{ openai_sync_current('group_roles') }} AS r
LEFT JOIN groups_ AS g
  ON g.id = r.group_id
UNION ALL
SELECT
  'group',
  m.organization_id,
  NULL,
  m.group_id,
  'user',
  m.id,
  m.email,
  'member',
  'membership',
  NULL
FROM {{ openai_sync_current('group_users') }} AS m
UNION ALL
SELECT
  'project',
  m.organization_id,
  m.project_id,
  NULL,
  'user',
  m.id,
  m.email,
  m.role,
  'membership',
  m.added_at
FROM {{ openai_sync_current('project_users') }} AS m
UNION ALL
SELECT
  'project',
  r.organization_id,
  r.project_id,
  NULL,
  'user',
  r.user_id,
  p.email,
  r.name,
  'role assignment',
  r.created_at
FROM {{ openai_sync_current('project_user_roles') }} AS r
LEFT JOIN people AS p
  ON p.id = r.user_id
UNION ALL
SELECT
  'project',
  r.organization_id,
  r.project_id,
  r.group_id,
  'group',
  r.group_id,
  g.name,
  r.name,
  'role assignment',
  r.created_at
FROM {{ openai_sync_current('project_group_roles') }} AS r
LEFT JOIN groups_ AS g
  ON g.id = r.group_id
UNION ALL
SELECT
  'project',
  s.organization_id,
  s.project_id,
  NULL,
  'service_account',
  s.id,
  s.name,
  s.role,
  'membership',
  s.created_at
FROM {{ openai_sync_current('project_service_accounts') }} AS s
{% else %}
/* Who holds which role: in the organization (membership and role assignments), in each project (membership, */
/* role assignments of users and groups, service accounts) and in each group (members, the group's roles), and */
/* since when (member_since: when they were added or the assignment made). */
WITH people AS (
  SELECT
    id,
    MAX(email) AS email,
    MAX(name) AS name
  FROM {{ openai_sync_current('users') }} AS x
  GROUP BY
    id
), groups_ AS (
  SELECT
    id,
    MAX(name) AS name
  FROM {{ openai_sync_current('groups') }} AS x
  GROUP BY
    id
)
SELECT
  'organization' AS scope,
  u.organization_id,
  NULL AS project_id,
  NULL AS group_id,
  'user' AS principal_type,
  u.id AS principal_id,
  u.email AS principal,
  u.role,
  'membership' AS source,
  u.added_at AS member_since
FROM {{ openai_sync_current('users') }} AS u
UNION ALL
SELECT
  'organization',
  r.organization_id,
  NULL,
  NULL,
  'user',
  r.user_id,
  p.email,
  r.name,
  'role assignment',
  r.created_at
FROM {{ openai_sync_current('user_roles') }} AS r
LEFT JOIN people AS p
  ON p.id = r.user_id
UNION ALL
SELECT
  'organization',
  r.organization_id,
  NULL,
  r.group_id,
  'group',
  r.group_id,
  g.name,
  r.name,
  'role assignment',
  r.created_at
FROM {{ openai_sync_current('group_roles') }} AS r
LEFT JOIN groups_ AS g
  ON g.id = r.group_id
UNION ALL
SELECT
  'group',
  m.organization_id,
  NULL,
  m.group_id,
  'user',
  m.id,
  m.email,
  'member',
  'membership',
  NULL
FROM {{ openai_sync_current('group_users') }} AS m
UNION ALL
SELECT
  'project',
  m.organization_id,
  m.project_id,
  NULL,
  'user',
  m.id,
  m.email,
  m.role,
  'membership',
  m.added_at
FROM {{ openai_sync_current('project_users') }} AS m
UNION ALL
SELECT
  'project',
  r.organization_id,
  r.project_id,
  NULL,
  'user',
  r.user_id,
  p.email,
  r.name,
  'role assignment',
  r.created_at
FROM {{ openai_sync_current('project_user_roles') }} AS r
LEFT JOIN people AS p
  ON p.id = r.user_id
UNION ALL
SELECT
  'project',
  r.organization_id,
  r.project_id,
  r.group_id,
  'group',
  r.group_id,
  g.name,
  r.name,
  'role assignment',
  r.created_at
FROM {{ openai_sync_current('project_group_roles') }} AS r
LEFT JOIN groups_ AS g
  ON g.id = r.group_id
UNION ALL
SELECT
  'project',
  s.organization_id,
  s.project_id,
  NULL,
  'service_account',
  s.id,
  s.name,
  s.role,
  'membership',
  s.created_at
FROM {{ openai_sync_current('project_service_accounts') }} AS s
{% endif %}
