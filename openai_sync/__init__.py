"""openai-sync: sync an OpenAI Platform organization's data into a warehouse."""

__version__ = "0.1.0"
