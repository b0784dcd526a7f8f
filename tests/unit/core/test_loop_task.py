"""LoopTask: the start/stop lifecycle the scheduler, expiry worker and membership share."""

from __future__ import annotations

import asyncio

from hush.core.loop_task import LoopTask


def test_start_runs_one_loop_and_stop_ends_it_before_returning() -> None:
    async def scenario() -> None:
        started = 0
        ended = 0

        async def loop() -> None:
            nonlocal started, ended
            started += 1
            try:
                await asyncio.Event().wait()
            finally:
                ended += 1

        task = LoopTask(loop)
        task.start()
        task.start()  # a second unseal starts nothing
        await asyncio.sleep(0)
        assert (started, ended) == (1, 0)
        await task.stop()
        assert ended == 1  # cancelled and awaited, not just asked to stop
        await task.stop()  # stopping a stopped task is harmless
        task.start()  # and it can run again after a seal/unseal cycle
        await asyncio.sleep(0)
        assert started == 2
        await task.stop()
        assert ended == 2

    asyncio.run(scenario())


def test_stop_before_the_loop_ran_cancels_it_cleanly() -> None:
    async def scenario() -> None:
        ran = False

        async def loop() -> None:
            nonlocal ran
            ran = True

        task = LoopTask(loop)
        task.start()
        await task.stop()
        assert ran is False

    asyncio.run(scenario())
