"""The core of paid curation, the same for every provider that asks a model behind an API.

plan → ask → parse → validate → store, from the edges in:

- `provider`: `RemoteProvider`, the flow: plan the jobs, ask only for what the response store
  lacks, assemble the pairs from the store alone (`assemble`: every loss a row of rejected.csv).
- `runner`: worker threads making interactive calls, with one retry policy for every vendor
  (`errors.FailureKind`: drop a key, cool it down, back off, give an image up, stop the run).
- `budget`: the hard budget `generate_qa.max_cost_usd` (reserve before a request, settle on its
  usage) and the spend accounts of metrics/generate_qa.json.
- `keys` (the key pool), `limiter` (requests and tokens per minute), `jobs` (what one image's
  request is, the run's tally, the progress bar), `prompt` (versioned prompt files), `parse`
  (answer text → pairs), `errors`, `logs` (quiet, redacted third-party logs).
- `api`: `RemoteAPI`, all a vendor supplies. The vendors sit beside the core and never import
  each other: `abo_vqa.qa.gemini` (google-genai SDK, Batch API) and `abo_vqa.qa.openai_compat`
  (any OpenAI-compatible server).

Adding a provider is one module plus its params. For, say, Anthropic's Messages API:

    # src/abo_vqa/qa/anthropic/api.py
    class MessagesAPI(RemoteAPI):
        name = "anthropic"                  # generate_qa.provider, params section, store folder

        def generation_settings(self, question_types, n_questions):
            s = self.section.sampling       # part of every cache key
            return {"temperature": s.temperature, "max_tokens": s.max_tokens}

        @property
        def max_output_tokens(self):        # what the budget reserves per request
            return self.section.sampling.max_tokens

        def image_tokens(self, width, height):
            return math.ceil(width * height / 750)          # the vendor's documented rule

        def parse(self, response):          # its wire format → the core's ParsedResponse
            usage = Usage(response["usage"]["input_tokens"], response["usage"]["output_tokens"])
            if response.get("stop_reason") == "max_tokens":
                return ParsedResponse((), "max_tokens", "stop_reason max_tokens", usage=usage)
            text = "".join(b["text"] for b in response["content"] if b["type"] == "text")
            return parse_answer_text(text, usage)

        def connect(self):                  # the key from the environment, and a client whose
            key = read_api_keys(self.section.api_key_env, f"{self.where}.api_key_env")[0]
            redact = Redactor([key])        # generate() raises CallFailed(Failure(...))
            return Connection(MessagesClient(self.section, self.settings, key, redact), 1, redact)

then an `AnthropicParams` dataclass in `abo_vqa.qa.params` (model, base_url, api_key_env,
sampling, `limits: CallLimits`) as `GenerateQAParams.anthropic` with its lines in params.yaml,
the name in `REMOTE_PROVIDERS` and the `provider` Literals, and one branch in
`providers.api_class`. The client maps the vendor's errors to `FailureKind`s (429 → RATE_LIMITED
with its retry-after, 401 → KEY_INVALID, 5xx → TRANSIENT...). A vLLM server with its own quirks
is a subclass of `ChatCompletionsAPI` overriding what differs (say, `generation_settings` adding
`guided_json`). Budget, estimate, verification, the store, retries, rate limits, `abo-vqa store`
and rejected.csv then work for it unchanged (tests/test_remote_core.py runs such a class).
"""
