"""Knowledge and behaviour generators: ``factuality`` (knowledge probing that teaches refusals) and
``steerability`` (system prompts with checkable instructions)."""
