"""The acting part of ``Workstation``: every command to a channel, sent and waited for.

Each call checks its order (``OrderChecks``), sends the controller's frames, and waits for the
module's acknowledgement or read-back; a refusal, a lost module or no answer in time is a
``ChannelError`` with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from channels.commands import Completion, Request
from channels.controller import ChannelError
from channels.effects import Effects
from channels.plan import Plan, PlanKind
from channels.planning import BolusOrder, InfusionOrder
from dbc.frames import Command, CommandAck, Program
from dbc.vocabulary import DeliveryMode, PumpState
from workstation.command_errors import conclude
from workstation.order_checks import OrderChecks

__all__ = ["ChannelCommands"]


class ChannelCommands(OrderChecks):
    _waiting: float  # how long a command may take, retries included

    async def _until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        changed = self.supervisor.changed
        while not predicate():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise ChannelError(f"{what}: no answer within {timeout:.1f} s")
            changed.clear()
            try:
                await asyncio.wait_for(changed.wait(), min(left, 0.1))
            except TimeoutError:
                continue

    async def _run(self, letter: str, fx: Effects) -> CommandAck | None:
        """Send the effects; wait for the acknowledgement of the command among them. Every
        failure is a ``CommandFailed`` (a ``ChannelError``): refused, unacknowledged, not sent,
        abandoned with its module, or no answer in time; never a bare ``TimeoutError``."""
        sup, sent = self.supervisor, list[tuple[Request, asyncio.Future[Completion]]]()
        for frame in fx.frames:
            if isinstance(frame, Command | Program):  # a page can fail to be sent, too
                sent.append((frame, asyncio.get_running_loop().create_future()))
                sup.completions[(letter, frame.seq)] = sent[-1][1]
        try:
            sup.apply(fx)
            return await conclude(letter, sent, self._waiting)
        finally:  # no stale future left behind, whatever ended the wait
            for frame, future in sent:
                if future.done() and not future.cancelled():
                    future.exception()  # a second failed page is not "never retrieved"
                future.cancel()
                if sup.completions.get((letter, frame.seq)) is future:
                    del sup.completions[(letter, frame.seq)]

    async def program(self, letter: str, order: InfusionOrder, *, confirm: bool = False,
                      user: str | None = None) -> Plan:
        """Check, send and verify a primary program by read-back; ``start`` runs it."""
        plan = self._accept(letter, self.check(letter, order), confirm, user, order.drug_id,
                            new_program=True)
        if plan.weight_kg is not None and self.patient_weight_kg is None:
            self.set_patient_weight(plan.weight_kg, user=user)  # the first weight is the one
        return await self._send_program(letter, plan, user)

    async def _send_program(self, letter: str, plan: Plan, user: str | None) -> Plan:
        controller = self._controller(letter)
        await self._run(letter, controller.load(plan, self._clock(), user=user))
        await self._until(lambda: controller.pending is None or controller.pending.verified,
                          self.config.commands.readback_timeout_s + self._waiting,
                          f"channel {letter}: program read-back")
        if controller.pending is None or controller.pending.plan != plan:
            raise ChannelError(f"channel {letter}: the pump did not confirm the program "
                               "(see the alarm); program again")
        return plan

    async def start(self, letter: str, *, user: str | None = None) -> CommandAck | None:
        controller = self._controller(letter)
        return await self._run(letter, controller.start(self._clock(), user=user))

    async def pause(self, letter: str, *, user: str | None = None) -> CommandAck | None:
        return await self._run(letter, self._controller(letter).pause(self._clock(), user=user))

    async def stop(self, letter: str, *, user: str | None = None) -> CommandAck | None:
        return await self._run(letter, self._controller(letter).stop(self._clock(), user=user))

    async def clear(self, letter: str, *, user: str | None = None) -> CommandAck | None:
        controller = self._controller(letter)
        return await self._run(letter, controller.clear_program(self._clock(), user=user))

    async def titrate(self, letter: str, *, dose: float | None = None,
                      rate_ml_h: float | None = None, confirm: bool = False,
                      user: str | None = None) -> Plan:
        """Change the running infusion's dose or rate: program, verify, apply without a pause.

        The new program carries the volume still to infuse (as the module reports it), never
        the original VTBI: the module counts a new program's volume from zero."""
        controller = self._controller(letter)
        running = controller.plan
        if running is None or running.drug_id == "unknown":
            raise ChannelError(f"channel {letter}: no known infusion to titrate; program it")
        status, progress = controller.module.status, controller.module.progress
        if controller.state is not PumpState.INFUSING or status is None or \
                status.mode is not DeliveryMode.PRIMARY:
            raise ChannelError(f"channel {letter}: titration needs the primary infusion running "
                               "(not paused, in KVO, or during a secondary or bolus)")
        if progress is None or progress.volume_remaining_ml < 0.1:
            raise ChannelError(f"channel {letter}: the volume left to infuse is not known yet "
                               "or nearly done; program a new infusion instead")
        # The running plan's own concentration, never a library position (H3).
        check = self.check_titration(letter, dose=dose, rate_ml_h=rate_ml_h,
                                     vtbi_ml=progress.volume_remaining_ml)
        plan = await self._send_program(letter, self._accept(letter, check, confirm, user),
                                        user)
        await self.start(letter, user=user)
        return plan

    async def _load_and_wait(self, letter: str, plan: Plan, started: Callable[[], bool],
                             user: str | None) -> Plan:
        controller = self._controller(letter)
        await self._run(letter, controller.load(plan, self._clock(), user=user))
        await self._until(lambda: started() or controller.pending is None,
                          self.config.commands.readback_timeout_s + 2 * self._waiting,
                          f"channel {letter}: {plan.kind.value}")
        if not started():
            raise ChannelError(f"channel {letter}: the pump did not start the {plan.kind.value} "
                               "(see the alarm)")
        return plan

    async def bolus(self, letter: str, order: BolusOrder, *, confirm: bool = False,
                    user: str | None = None) -> Plan:
        controller = self._controller(letter)
        plan = self._accept(letter, self.check_bolus(letter, order), confirm, user)
        given = await self._load_and_wait(letter, plan, lambda: controller.bolus == plan, user)
        if given.dose is not None:  # counted once started, whole (the safe side)
            self.bolus_history.record(given.drug_id, given.dose, self._clock())
        return given

    async def secondary(self, letter: str, order: InfusionOrder, *, confirm: bool = False,
                        user: str | None = None) -> Plan:
        controller = self._controller(letter)
        check = self.check(letter, order, kind=PlanKind.SECONDARY)
        plan = self._accept(letter, check, confirm, user, order.drug_id)
        return await self._load_and_wait(letter, plan, lambda: controller.secondary == plan,
                                         user)

    async def stop_bolus(self, letter: str, *, user: str | None = None) -> None:
        await self._run(letter, self._controller(letter).stop_bolus(self._clock(), user=user))

    async def stop_secondary(self, letter: str, *, user: str | None = None) -> None:
        controller = self._controller(letter)
        await self._run(letter, controller.stop_secondary(self._clock(), user=user))
