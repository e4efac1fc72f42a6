"""LLM client instrumentation internals (openai, anthropic)."""
