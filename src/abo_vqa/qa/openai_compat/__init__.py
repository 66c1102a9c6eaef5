"""The `openai` provider: any server speaking OpenAI's Chat Completions, a thin client of the core
(`abo_vqa.qa.remote`).

vLLM, Ollama, LM Studio, llama.cpp's server, SGLang and OpenAI itself serve it.

- `api`: `ChatCompletionsAPI`, what the core needs: settings and the JSON schema of the answer,
  OpenAI's image token rule (or a fixed count for a local model), the single optional key.
- `client`: the only code that touches the `openai` client and the key.
- `errors`: status, body and Retry-After → the core's `FailureKind`.
- `parse`: chat completions → the core's `ParsedResponse`.

The `openai` package is imported only when a request must be made.
"""
