-- Month to date and a forecast to the month's end, for each organization and each of its projects, as of the latest day
-- with costs: month to date + the trailing 7 days' average daily spend x the days left. Against the smallest
-- monthly spend-alert threshold (the organization's, or the project's).
WITH daily AS (
    SELECT 'project' AS scope, organization_id, project_id, MAX(project_name) AS project_name, day,
           SUM(amount) AS amount, MAX(currency) AS currency
    FROM {{ ref('spend_daily') }} AS x GROUP BY organization_id, project_id, day
    UNION ALL
    SELECT 'organization', organization_id, NULL, NULL, day, SUM(amount), MAX(currency)
    FROM {{ ref('spend_daily') }} AS x GROUP BY organization_id, day
),
asof AS (SELECT organization_id, MAX(day) AS as_of FROM daily GROUP BY organization_id),
totals AS (
    SELECT d.scope, d.organization_id, d.project_id, MAX(d.project_name) AS project_name, MAX(d.currency) AS currency,
           a.as_of, CAST(date_trunc('month', a.as_of) AS DATE) AS month,
           SUM(CASE WHEN d.day >= CAST(date_trunc('month', a.as_of) AS DATE) AND d.day <= a.as_of
                    THEN d.amount ELSE 0 END) AS month_to_date,
           SUM(CASE WHEN d.day > a.as_of - 7 AND d.day <= a.as_of THEN d.amount ELSE 0 END) / 7 AS daily_run_rate
    FROM daily AS d JOIN asof AS a ON a.organization_id IS NOT DISTINCT FROM d.organization_id
    GROUP BY d.scope, d.organization_id, d.project_id, a.as_of
),
thresholds AS (
    SELECT 'project' AS scope, organization_id, project_id, MIN(threshold_amount) AS threshold
    FROM {{ current('project_spend_alerts') }} AS x WHERE "interval" = 'month' GROUP BY organization_id, project_id
    UNION ALL
    SELECT 'organization', organization_id, NULL, MIN(threshold_amount) FROM {{ current('spend_alerts') }} AS x
    WHERE "interval" = 'month' GROUP BY organization_id
)
SELECT
    t.scope, t.organization_id, t.project_id, t.project_name, t.currency, t.month, t.as_of,
    CAST(last_day(t.as_of) - t.as_of AS BIGINT) AS days_left,
    t.month_to_date,
    t.daily_run_rate,
    t.month_to_date + t.daily_run_rate * (last_day(t.as_of) - t.as_of) AS forecast,
    h.threshold AS alert_threshold,
    CASE WHEN h.threshold > 0 THEN (t.month_to_date + t.daily_run_rate * (last_day(t.as_of) - t.as_of)) / h.threshold
    END AS forecast_share_of_threshold,
    h.threshold IS NOT NULL AND t.month_to_date + t.daily_run_rate * (last_day(t.as_of) - t.as_of) >= h.threshold
        AS will_exceed
FROM totals AS t
LEFT JOIN thresholds AS h ON h.scope = t.scope AND h.project_id IS NOT DISTINCT FROM t.project_id
    AND h.organization_id IS NOT DISTINCT FROM t.organization_id
