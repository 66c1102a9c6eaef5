"""What one vendor's module supplies to the core: `RemoteAPI` (see the package docstring).

Everything that differs between vendors is here, and nothing else: the generation settings sent
with every request (part of the cache key), the client that makes one call and classifies its
failures, the response parser, the rule that prices an image in tokens, and, optionally, a batch
mode. The core (`RemoteProvider`, `OnlineRunner`) does the rest the same way for every vendor.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from abo_vqa.qa.remote.errors import Redactor
from abo_vqa.qa.remote.parse import ParsedResponse

if TYPE_CHECKING:
    from abo_vqa.qa.params import CallLimits
    from abo_vqa.qa.remote.runner import RunContext


class Client(Protocol):
    """One call per image: the response body as JSON, or `CallFailed` carrying a `Failure` (and
    never the HTTP library's exception, which holds the key)."""

    def generate(self, slot: int, image: bytes, mime_type: str, prompt: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Connection:
    """A client ready to call, with the number of key slots it rotates through (1 for a single
    key, or none) and the redactor that hides those keys."""

    client: Client
    slots: int
    redact: Redactor


class RemoteAPI(ABC):
    """One vendor's wire format and client (see the module docstring).

    `section` is the vendor's params (a dataclass with at least `model` and `limits`). The
    settings are computed once: they are part of every cache key.
    """

    name: ClassVar[str]
    """The provider's name: `generate_qa.provider`, the params section, the store's folder."""
    rerun_hint: ClassVar[str] = "rerun with a valid key in the environment"
    """What to do when every key is dropped."""

    def __init__(self, section: Any, question_types: Sequence[str], n_questions: int) -> None:
        self.section = section
        self.settings: dict[str, Any] = self.generation_settings(question_types, n_questions)

    @property
    def where(self) -> str:
        """The params section, named in every error message."""
        return f"generate_qa.{self.name}"

    @property
    def model(self) -> str:
        return str(self.section.model)

    @property
    def limits(self) -> CallLimits:
        return self.section.limits

    @property
    def endpoint(self) -> str:
        """Where requests go, and the setting that says so (for error messages)."""
        return f"{self.section.base_url} ({self.where}.base_url)"

    @property
    def batch_enabled(self) -> bool:
        """Whether this run uses a batch API instead of interactive calls."""
        return False

    @property
    def price_factor(self) -> float:
        """The fraction of the interactive price this run's requests cost (batch discounts)."""
        return 1.0

    @abstractmethod
    def generation_settings(
        self, question_types: Sequence[str], n_questions: int
    ) -> dict[str, Any]:
        """Everything in a request besides its contents, as plain data (part of the cache key)."""

    @property
    @abstractmethod
    def max_output_tokens(self) -> int:
        """The most output tokens one request may be billed (what the budget reserves)."""

    @abstractmethod
    def image_tokens(self, width: int, height: int) -> int:
        """Input tokens the vendor bills for an image of this size."""

    @abstractmethod
    def parse(self, response: Mapping[str, Any]) -> ParsedResponse:
        """Candidate pairs, problem and usage of one stored response."""

    @abstractmethod
    def connect(self) -> Connection:
        """Read the key(s) from the environment (MissingApiKeysError naming the variable) and
        build the client. Called only when a request must be made."""

    def batch_runner(self, context: RunContext) -> Any:
        """The runner of a batch mode, when `batch_enabled` (see `abo_vqa.qa.gemini.batch`)."""
        raise NotImplementedError(f"{self.where}: no batch mode")
