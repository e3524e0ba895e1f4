"""agentdistill: distill LLM agents (thought + code + retrieval) into small language models."""

__version__ = "0.1.0"
