{#- A table's current rows, as openai-sync's own views read them: the current version in history mode
    (_valid_to is null), not soft-deleted otherwise (_deleted is not true), every row when neither column exists. -#}
{% macro openai_sync_current(table) -%}
    {%- set relation = source('openai_sync', table) -%}
    {%- set columns = [] -%}
    {%- if execute -%}
        {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- endif -%}
    {%- if '_valid_to' in columns -%}
        (SELECT * FROM {{ relation }} WHERE _valid_to IS NULL)
    {%- elif '_deleted' in columns -%}
        (SELECT * FROM {{ relation }} WHERE _deleted IS NOT TRUE)
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}
