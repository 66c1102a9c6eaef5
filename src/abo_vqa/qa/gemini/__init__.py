"""The `gemini` provider (google-genai SDK): a thin client of the core, `abo_vqa.qa.remote`.

- `api`: `GeminiAPI`, what the core needs: generation settings and the structured-output schema,
  Google's image token rule, the key pool, the batch mode.
- `client`: the only code that touches the SDK and the keys; sanitises every exception.
- `errors`: Google's error bodies → the core's `FailureKind`.
- `parse`: generateContent responses → the core's `ParsedResponse`.
- `batch`: the Batch API (half price, results within 24 h), resumable.

The SDK is imported only when a request must be made, so a fully stored run needs neither keys
nor the SDK's import time.
"""
