"""The hub client's retry policy, composed from small tenacity objects.

Only :class:`~syncd.errors.HubTransientError` is retried. Retries are bounded
twice: by ``max_attempts`` (total attempts, the first included) and by
``max_seconds`` of the injected monotonic clock, where a sleep that would end
past the budget is not started. The delay is the hub's ``Retry-After`` when it
sent one (capped), else capped exponential backoff with jitter drawn from an
injected :class:`random.Random`. When the budget runs out,
:class:`~syncd.errors.HubUnavailableError` is raised from the last transient
error, naming it and the attempt count.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from syncd.errors import HubTransientError, HubUnavailableError

__all__ = ["BackoffPlan", "RetryPolicy", "StopOnBudget", "WaitPlanned"]

T = TypeVar("T")


def _transient(state: RetryCallState) -> HubTransientError | None:
    if state.outcome is None or not state.outcome.failed:
        return None
    exc = state.outcome.exception()
    return exc if isinstance(exc, HubTransientError) else None


class BackoffPlan:
    """The delay before each retry, computed once per attempt.

    tenacity versions differ on whether ``wait`` or ``stop`` runs first; both
    ask this plan, which draws the jitter only once per attempt.
    """

    def __init__(
        self, *, retry_after_cap: float, rng: random.Random, initial: float = 0.5, maximum: float = 30.0,
    ) -> None:
        self.retry_after_cap = retry_after_cap
        self.rng = rng
        self.initial = initial
        self.maximum = maximum
        self._delays: dict[int, float] = {}

    def delay(self, state: RetryCallState) -> float:
        attempt = state.attempt_number
        if attempt not in self._delays:
            self._delays[attempt] = self._compute(attempt, _transient(state))
        return self._delays[attempt]

    def _compute(self, attempt: int, error: HubTransientError | None) -> float:
        if error is not None and error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.retry_after_cap)
        ceiling = min(self.maximum, self.initial * 2.0 ** min(attempt - 1, 64))
        # "equal jitter": at least half the ceiling, so retries never bunch up at zero
        return ceiling / 2 + self.rng.uniform(0.0, ceiling / 2)


class WaitPlanned(wait_base):
    """A tenacity wait that asks a :class:`BackoffPlan`."""

    def __init__(self, plan: BackoffPlan) -> None:
        self.plan = plan

    def __call__(self, retry_state: RetryCallState) -> float:
        return self.plan.delay(retry_state)


class StopOnBudget(stop_base):
    """Stop after ``max_attempts`` attempts, or before a sleep that would end past ``max_seconds``.

    Time is measured with ``monotonic`` from this object's creation, which is
    the start of the first attempt. ``why`` says which bound stopped it.
    """

    def __init__(
        self, *, max_attempts: int, max_seconds: float, monotonic: Callable[[], float], plan: BackoffPlan,
    ) -> None:
        self.max_attempts = max_attempts
        self.max_seconds = max_seconds
        self.monotonic = monotonic
        self.plan = plan
        self.started = monotonic()
        self.why = ""

    def __call__(self, retry_state: RetryCallState) -> bool:
        if retry_state.attempt_number >= self.max_attempts:
            self.why = f"attempt limit {self.max_attempts}"
            return True
        elapsed = self.monotonic() - self.started
        delay = self.plan.delay(retry_state)
        if elapsed + delay > self.max_seconds:
            self.why = (
                f"time budget {self.max_seconds:g}s: {elapsed:.1f}s spent, next retry due in {delay:.1f}s"
            )
            return True
        return False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the hub client retries one request: the settings' bounds plus injected sleep, clock and rng."""

    max_attempts: int
    max_seconds: float
    retry_after_cap: float
    sleep: Callable[[float], None]
    monotonic: Callable[[], float]
    rng: random.Random = field(default_factory=random.Random)

    def run(
        self,
        attempt: Callable[[int], T],
        *,
        label: str,
        on_retry: Callable[[HubTransientError, int, float], None],
    ) -> T:
        """Call ``attempt(n)`` for n = 1, 2, ... until it returns or the budget runs out.

        ``on_retry(error, attempt_number, delay)`` is called before each sleep.
        Exceptions other than :class:`HubTransientError` propagate at once.
        """
        plan = BackoffPlan(retry_after_cap=self.retry_after_cap, rng=self.rng)
        stop = StopOnBudget(
            max_attempts=self.max_attempts, max_seconds=self.max_seconds, monotonic=self.monotonic, plan=plan,
        )

        def before_sleep(state: RetryCallState) -> None:
            error = _transient(state)
            if error is not None and state.next_action is not None:
                on_retry(error, state.attempt_number, state.next_action.sleep)

        def give_up(state: RetryCallState) -> NoReturn:
            error = _transient(state)
            assert error is not None  # only transient errors are retried
            raise HubUnavailableError(
                f"{label}: hub unavailable after {state.attempt_number} attempt(s) ({stop.why}); "
                f"last failure: {error}",
                status=error.status,
            ) from error

        retrying = Retrying(
            sleep=self.sleep,
            stop=stop,
            wait=WaitPlanned(plan),
            retry=retry_if_exception_type(HubTransientError),
            before_sleep=before_sleep,
            retry_error_callback=give_up,
        )
        numbers = itertools.count(1)
        return retrying(lambda: attempt(next(numbers)))
