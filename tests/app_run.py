"""A desk's app run headless as an async context: the pilot in, the desk closed on the way out."""

from __future__ import annotations


class AppRun:
    size: tuple[int, int] = (100, 32)

    desk: object
    app: object

    async def __aenter__(self):
        self._context = self.app.run_test(size=self.size)
        self.pilot = await self._context.__aenter__()
        await self.pilot.pause()
        return self

    async def __aexit__(self, *exc):
        await self._context.__aexit__(*exc)
        self.desk.close()


async def wait_until(pilot, condition, seconds: float = 10.0) -> None:
    """Let the app run until `condition()` holds (a worker finished, a screen drew), or fail."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("timed out")
