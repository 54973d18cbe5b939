"""How ticketbot's agent sessions call the model provider (the harness reads these)."""

MODEL = "gpt-4.1-mini"
# Answers stream to the support console as they are written.
STREAM = True
# Longest silence, in seconds, while waiting for the provider.
REQUEST_TIMEOUT_S = 1.0
# Attempts per model call, the first included.
MAX_ATTEMPTS = 3
