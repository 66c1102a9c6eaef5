"""The `openai` QA provider: any server speaking OpenAI's Chat Completions wire format.

vLLM, Ollama, LM Studio, llama.cpp's server, SGLang and OpenAI itself serve it. The provider
reuses the Gemini provider's flow and machinery (response cache, shared rate limiter, retry
policy, progress bar); only the client, the error classification and the response parser are
its own. The `openai` package is imported only when a request must be made.
"""
