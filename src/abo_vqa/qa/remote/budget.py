"""What a run spends, and the hard budget `generate_qa.max_cost_usd` that caps it.

One `Budget` serves a whole stage run, curation and verification alike, at the prices of the one
table `generate_qa.pricing`. Before a request is sent, its worst-case cost is *reserved*: the
estimated input tokens (the image by the provider's rule, the prompt at four characters a token)
plus the request's maximum output tokens, at the model's price (times the Batch API's factor
where it applies). A reservation that would take `spent + reserved` past the limit waits while
other requests are in flight (their actual cost may leave room) and is refused once none is: the
run then stops. When the response arrives, the reservation is *settled* at the cost of the usage
the response reports (the estimate when it reports none). A call answered with an HTTP error is
not billed and releases its reservation; a call that timed out may have been billed, so it is
charged at the estimate. Concurrent workers can therefore never jointly overshoot the limit.

Each phase (curation, verification) keeps an account of the requests it sent: the estimate made
before each one (input as above, output at the expected mean) beside the actual usage, for the
`spend` section of metrics/generate_qa.json.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from abo_vqa.qa.remote.parse import Usage

_EPSILON_USD = 1e-12


@dataclass(frozen=True)
class Price:
    """USD per million input and output tokens of one model, times a discount factor."""

    input_per_mtok: float
    output_per_mtok: float
    factor: float = 1.0

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        per_mtok = input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok
        return self.factor * per_mtok / 1e6


@dataclass
class Account:
    """What one phase (curation or verification) sent and what it cost."""

    provider: str
    model: str
    price: Price | None
    requests: int = 0
    responses: int = 0
    estimated_input_tokens: int = 0
    estimated_output_tokens: int = 0
    actual_input_tokens: int = 0
    actual_output_tokens: int = 0
    actual_cost_usd: float = 0.0
    usage_missing: int = 0
    """Responses that reported no usage: counted at the estimate."""
    timeouts_charged: int = 0
    """Calls that timed out: they may have been billed, so they are charged at the estimate."""
    reserved_unsettled_usd: float = 0.0
    """Charged at submission and not settled by a response in this run (pending batch jobs)."""

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        return self.price.cost(input_tokens, output_tokens) if self.price else 0.0

    def metrics(self) -> dict[str, Any]:
        def tokens_and_cost(input_tokens: int, output_tokens: int) -> dict[str, Any]:
            cost = self.cost(input_tokens, output_tokens) if self.price else None
            return {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cost_usd": None if cost is None else round(cost, 6),
            }

        actual = tokens_and_cost(self.actual_input_tokens, self.actual_output_tokens)
        if self.price:  # timeouts and pending batches are charged beside the usage
            actual["cost_usd"] = round(self.actual_cost_usd, 6)
        return {
            "provider": self.provider,
            "model": self.model,
            "requests": self.requests,
            "responses": self.responses,
            "estimated": tokens_and_cost(self.estimated_input_tokens, self.estimated_output_tokens),
            "actual": actual,
            "usage_missing": self.usage_missing,
            "timeouts_charged": self.timeouts_charged,
            "price_usd_per_mtok": None
            if self.price is None
            else [self.price.input_per_mtok, self.price.output_per_mtok],
        }


@dataclass(frozen=True)
class Estimate:
    """One request's cost before it is sent: the worst case it reserves, the expected tokens."""

    reserve_usd: float
    input_tokens: int
    output_tokens: int


class Budget:
    """The run's spend and its optional hard limit (see the module docstring); thread-safe."""

    def __init__(self, limit_usd: float | None = None) -> None:
        self.limit_usd = limit_usd
        self.spent_usd = 0.0
        self.reserved_usd = 0.0
        self.accounts: dict[str, Account] = {}
        self.refused = False
        """Whether a request was refused for the budget (the run stopped at it)."""
        self._changed = threading.Condition()

    def account(self, phase: str, provider: str, model: str, price: Price | None) -> Account:
        """The account of `phase` ("curation", "verification"), opened on first use."""
        with self._changed:
            if phase not in self.accounts:
                self.accounts[phase] = Account(provider, model, price)
            return self.accounts[phase]

    def _fits(self, usd: float) -> bool:
        if self.limit_usd is None:
            return True
        return self.spent_usd + self.reserved_usd + usd <= self.limit_usd + _EPSILON_USD

    def reserve(
        self, usd: float, stop: threading.Event | None = None, *, wait: bool = True
    ) -> bool:
        """Reserve `usd` for a request about to be sent. False when it does not fit even after
        every request in flight has settled (`refused` is then set), or when `stop` is set.
        With `wait` False, a request that does not fit now is refused at once."""
        with self._changed:
            while not self._fits(usd):
                if stop is not None and stop.is_set():
                    return False
                if self.reserved_usd <= _EPSILON_USD or not wait:
                    self.refused = True
                    return False
                self._changed.wait(timeout=1.0)
            self.reserved_usd += usd
            return True

    def settle(self, account: Account, estimate: Estimate, usage: Usage | None) -> float:
        """A response arrived: replace its reservation by the cost of its usage (the estimate's
        tokens when it reports none). Returns the cost charged."""
        with self._changed:
            account.responses += 1
            account.estimated_input_tokens += estimate.input_tokens
            account.estimated_output_tokens += estimate.output_tokens
            if usage is None or not usage.reported:
                account.usage_missing += 1
                tokens = (estimate.input_tokens, estimate.output_tokens)
            else:
                tokens = (usage.input_tokens, usage.billed_output_tokens)
            account.actual_input_tokens += tokens[0]
            account.actual_output_tokens += tokens[1]
            cost = account.cost(*tokens)
            self._charge(account, estimate.reserve_usd, cost)
            return cost

    def charge_estimate(self, account: Account, estimate: Estimate) -> None:
        """A call that may have been billed without an answer (a timeout): charge the estimate."""
        with self._changed:
            account.timeouts_charged += 1
            cost = account.cost(estimate.input_tokens, estimate.output_tokens)
            self._charge(account, estimate.reserve_usd, cost)

    def release(self, estimate: Estimate) -> None:
        """A call answered with an error (not billed): free its reservation."""
        with self._changed:
            self.reserved_usd = max(0.0, self.reserved_usd - estimate.reserve_usd)
            self._changed.notify_all()

    def commit_unsettled(self, account: Account, reserve_usd: float) -> None:
        """Keep a reservation as spent (a batch job submitted but not collected in this run)."""
        with self._changed:
            account.reserved_unsettled_usd += reserve_usd
            self._charge(account, reserve_usd, reserve_usd)

    def _charge(self, account: Account, reserved_usd: float, cost_usd: float) -> None:
        self.reserved_usd = max(0.0, self.reserved_usd - reserved_usd)
        self.spent_usd += cost_usd
        account.actual_cost_usd += cost_usd
        self._changed.notify_all()

    def metrics(self) -> dict[str, Any]:
        """The `spend` section of metrics/generate_qa.json."""
        with self._changed:
            return {
                "max_cost_usd": self.limit_usd,
                "spent_usd": round(self.spent_usd, 6),
                "stopped_at_budget": self.refused,
                **{phase: account.metrics() for phase, account in self.accounts.items()},
            }


def estimate_request(
    price: Price | None, input_tokens: int, expected_output: int, max_output: int
) -> Estimate:
    """A request's `Estimate`: it reserves its input estimate and its maximum output."""
    reserve = price.cost(input_tokens, max_output) if price else 0.0
    return Estimate(reserve, input_tokens, expected_output)


def price_of(table: Any, model: str, factor: float = 1.0) -> Price | None:
    """The `Price` of `model` in the pricing table (`PricingParams`), or None if it has none."""
    found = table.price(model)
    return None if found is None else Price(found[0], found[1], factor)
