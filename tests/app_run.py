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
