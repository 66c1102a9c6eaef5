"""The Gemini QA provider (google-genai SDK), built to spend money once and survive anything.

Modules, from the edges in:

- `provider`: GeminiProvider (plan → fetch what the cache lacks → assemble from the cache).
- `online` / `batch`: interactive calls from worker threads, or the Batch API (half price).
- `client`: the only code that touches the SDK and the keys; sanitises every exception.
- `keys`: the key pool (env var, round-robin, drop / cool-down). Limits are per Google Cloud
  project, not per key: keys of one project share one quota.
- `limiter`: one requests/min + tokens/min pacer shared by all threads.
- `prompt`, `parse`, `errors`, `jobs`: pure pieces (prompt files and schema, response parsing,
  error classification, cache records and costs).

The SDK is imported only when a request must be made, so a fully cached run needs neither keys
nor the SDK's import time.
"""

from abo_vqa.qa.gemini.errors import (
    AllKeysExhaustedError,
    BatchPendingError,
    GeminiConfigError,
    GeminiError,
    GeminiUnreachableError,
    MissingApiKeysError,
)

__all__ = [
    "AllKeysExhaustedError",
    "BatchPendingError",
    "GeminiConfigError",
    "GeminiError",
    "GeminiUnreachableError",
    "MissingApiKeysError",
]
