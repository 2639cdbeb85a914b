-- spend_daily sums to the costs table exactly, and focus_costs' BilledCost too: a row here is a failure.
WITH totals AS (
    SELECT
        (SELECT sum(amount) FROM {{ source('openai_sync', 'costs') }}) AS costs,
        (SELECT sum(amount) FROM {{ ref('spend_daily') }}) AS spend,
        (SELECT sum("BilledCost") FROM {{ ref('focus_costs') }}) AS billed
)
SELECT * FROM totals WHERE spend <> costs OR billed <> costs
