"""Math and reasoning capability."""
