-- The costs as FOCUS 1.2 Cost and Usage rows (https://focus.finops.org), one per costs row, so BilledCost sums to
-- the costs table. The billing account is the organization (the Admin API gives no display name: its id stands in),
-- the sub-account the project. OpenAI publishes no negotiated or amortized prices in its costs, so List, Contracted,
-- Effective and Billed costs are the amount. ServiceName and ServiceSubcategory come from the line item's words;
-- OpenAI's own dimensions are the x_ columns.
SELECT
    c.organization_id AS "BillingAccountId",
    c.organization_id AS "BillingAccountName",
    CAST(date_trunc('month', c.start_time AT TIME ZONE 'UTC') AS TIMESTAMP) AT TIME ZONE 'UTC' AS "BillingPeriodStart",
    CAST(date_trunc('month', c.start_time AT TIME ZONE 'UTC') + INTERVAL 1 MONTH AS TIMESTAMP) AT TIME ZONE 'UTC'
        AS "BillingPeriodEnd",
    upper(c.currency) AS "BillingCurrency",
    c.amount AS "BilledCost",
    c.amount AS "EffectiveCost",
    c.amount AS "ListCost",
    c.amount AS "ContractedCost",
    CASE WHEN c.amount < 0 THEN 'Credit' ELSE 'Usage' END AS "ChargeCategory",
    CAST(NULL AS VARCHAR) AS "ChargeClass",
    CAST(NULL AS VARCHAR) AS "CommitmentDiscountStatus",
    CAST(NULL AS VARCHAR) AS "InvoiceId",
    c.line_item AS "ChargeDescription",
    'Usage-Based' AS "ChargeFrequency",
    c.start_time AS "ChargePeriodStart",
    c.end_time AS "ChargePeriodEnd",
    CAST(c.quantity AS DECIMAL(38, 6)) AS "PricingQuantity",
    CASE WHEN c.quantity IS NOT NULL THEN coalesce(upper(substr(c.quantity_unit, 1, 1)) || substr(c.quantity_unit, 2), 'Units') END AS "PricingUnit",
    CAST(c.quantity AS DECIMAL(38, 6)) AS "ConsumedQuantity",
    CASE WHEN c.quantity IS NOT NULL THEN coalesce(upper(substr(c.quantity_unit, 1, 1)) || substr(c.quantity_unit, 2), 'Units') END AS "ConsumedUnit",
    'OpenAI' AS "ProviderName",
    'OpenAI' AS "PublisherName",
    'OpenAI' AS "InvoiceIssuerName",
    'AI and Machine Learning' AS "ServiceCategory",
    s.service AS "ServiceName",
    s.subcategory AS "ServiceSubcategory",
    c.project_id AS "SubAccountId",
    CASE WHEN c.project_id IS NOT NULL THEN coalesce(p.name, c.project_id) END AS "SubAccountName",
    c.project_id AS "x_ProjectId",
    c.api_key_id AS "x_ApiKeyId",
    k.name AS "x_ApiKeyName",
    c.user_id AS "x_UserId",
    CASE WHEN strpos(c.line_item, ', ') > 0 THEN split_part(c.line_item, ', ', 1) END AS "x_Model",
    c.line_item AS "x_LineItem",
    c.api_source AS "x_ApiSource",
    c.id AS "x_CostId"
FROM {{ source('costs') }} AS c
CROSS JOIN LATERAL (SELECT lower(coalesce(c.line_item, '')) AS li) AS l
CROSS JOIN LATERAL (
    SELECT
        CASE
            WHEN l.li LIKE '%decisions%' THEN 'Decisions API'
            WHEN l.li LIKE '%embedding%' THEN 'Embeddings'
            WHEN l.li LIKE '%moderation%' THEN 'Moderation'
            WHEN l.li LIKE '%training%' THEN 'Fine-tuning'
            WHEN l.li LIKE '%image%' OR l.li LIKE 'dall-e%' THEN 'Image Generation'
            WHEN l.li LIKE 'tts%' OR l.li LIKE '%speech%' OR l.li LIKE '%characters%' THEN 'Text to Speech'
            WHEN l.li LIKE 'whisper%' OR l.li LIKE '%transcri%' THEN 'Speech to Text'
            WHEN l.li LIKE '%code interpreter%' OR l.li LIKE '%container%' THEN 'Code Interpreter'
            WHEN l.li LIKE '%file search%' OR l.li LIKE '%vector store%' THEN 'File Search'
            WHEN l.li LIKE '%web search%' THEN 'Web Search'
            WHEN l.li LIKE '%, %' THEN 'Model Inference'
            ELSE 'OpenAI API'
        END AS service,
        CASE
            WHEN l.li LIKE '%embedding%' OR l.li LIKE '%moderation%' OR l.li LIKE 'whisper%' OR l.li LIKE '%transcri%'
                THEN 'Natural Language Processing'
            WHEN l.li LIKE '%training%' THEN 'Machine Learning'
            WHEN l.li LIKE '%code interpreter%' OR l.li LIKE '%container%' OR l.li LIKE '%file search%'
                OR l.li LIKE '%vector store%' OR l.li LIKE '%web search%' THEN 'AI Platforms'
            WHEN l.li LIKE '%, %' OR l.li LIKE 'dall-e%' OR l.li LIKE 'tts%' THEN 'Generative AI'
            ELSE 'Other (AI and Machine Learning)'
        END AS subcategory
) AS s
LEFT JOIN (SELECT id, MAX(name) AS name FROM {{ current('projects') }} AS x GROUP BY id) AS p ON p.id = c.project_id
LEFT JOIN (SELECT id, MAX(name) AS name FROM {{ current('project_api_keys') }} AS x GROUP BY id) AS k
    ON k.id = c.api_key_id
