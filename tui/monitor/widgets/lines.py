"""A scrolling list drawn one line at a time, with a cache of rendered lines.

The central monitor may list hundreds of beds and alarms; only the lines on screen are ever
rendered (Textual's line API), and a line is rendered again only when it was invalidated.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


class LineList(ScrollView, can_focus=True):
    """Subclasses say how many rows there are and render one row as a line of Text."""

    DEFAULT_CSS = "LineList { overflow-x: hidden; }"

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self.rows = 0
        self._cache: dict[int, Strip] = {}
        self._width = 0

    def render_row(self, index: int, width: int) -> Text:
        raise NotImplementedError

    def set_row_count(self, rows: int) -> None:
        """A new list: every cached line goes."""
        self.rows = rows
        self._cache.clear()
        self.virtual_size = Size(self.scrollable_content_region.width, rows)
        self.refresh()

    def invalidate(self, indexes: Iterable[int]) -> None:
        """Render these rows again; the screen redraws at once only if one is visible."""
        top = int(self.scroll_offset.y)
        bottom = top + self.scrollable_content_region.height
        visible = False
        for index in indexes:
            self._cache.pop(index, None)
            visible = visible or top <= index < bottom
        if visible:
            self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if width != self._width:  # the columns depend on the width
            self._width = width
            self._cache.clear()
        index = y + int(self.scroll_offset.y)
        if index >= self.rows:
            return Strip.blank(width, self.rich_style)
        strip = self._cache.get(index)
        if strip is None:
            text = self.render_row(index, width)
            text.truncate(width, overflow="ellipsis")
            strip = Strip(list(text.render(self.app.console, end="")))
            strip = strip.adjust_cell_length(width).apply_style(self.rich_style)
            self._cache[index] = strip
        return strip
