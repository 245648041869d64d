"""Command-palette provider: go to a snippet id, find text, filter the queue."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from curate.annotating import QUEUE_NAMES
from curate.tui.messages import FilterQueue, FindText, GoToSnippet


class AnnotateCommands(Provider):
    """What the palette offers on the annotation screen; what is typed is the argument."""

    queues: tuple[str, ...] = QUEUE_NAMES

    def _post(self, message) -> None:
        self.screen.post_message(message)

    def _prompt(self, kind: str) -> None:
        prompt = getattr(self.screen, "prompt_for", None)
        if prompt is not None:
            prompt(kind)

    async def discover(self) -> Hits:
        yield DiscoveryHit("Go to snippet id…", partial(self._prompt, "goto"), help="Type an id and press enter")
        yield DiscoveryHit("Find text…", partial(self._prompt, "find"), help="The next occurrence after the cursor, else in the next snippet of the queue that has it")
        for queue in self.queues:
            yield DiscoveryHit(f"Filter queue: {queue}", partial(self._post, FilterQueue(queue)), help=_QUEUE_HELP[queue])

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for queue in self.queues:
            label = f"Filter queue: {queue}"
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(self._post, FilterQueue(queue)), text=label, help=_QUEUE_HELP[queue])
        argument = query.strip()
        asked = ""
        for prefix in ("go to ", "goto ", "find "):
            if argument.lower().startswith(prefix):
                asked = prefix
                argument = argument[len(prefix):].strip()
        if not argument:
            return
        corpus = getattr(self.screen, "corpus", None)
        known = corpus is not None and corpus.position(argument) is not None
        go_to = f"Go to snippet id: {argument}"
        go_score = 1.0 if asked in ("go to ", "goto ") else (0.95 if known else 0.3)
        yield Hit(go_score, go_to, partial(self._post, GoToSnippet(argument)), text=go_to, help=None if known else "no snippet has this id")
        find = f"Find text: {argument}"
        yield Hit(1.0 if asked == "find " else 0.5, find, partial(self._post, FindText(argument)), text=find)


class ReviewCommands(AnnotateCommands):
    """The review screen has one queue (most disagreed first): no queue filters."""

    queues = ()


_QUEUE_HELP = {
    "todo": "snippets without a final status",
    "all": "every snippet",
    "flagged": "snippets you flagged",
    "skipped": "snippets you skipped",
    "done": "snippets you marked done",
}
