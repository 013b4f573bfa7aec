"""A paginator for long lists whose exact length nobody needs: it counts up to a cap and no further."""

from functools import cached_property

from django.core.paginator import Paginator


class CappedCountPaginator(Paginator):
    """Counts at most `count_cap` objects (one `SELECT COUNT(*) FROM (… LIMIT cap + 1)` query), so the cost of a page
    does not grow with the list: a board of 10,000 jobs counted them all on every view (benchmarks/board.py). Pages
    past the cap are not offered; `count_capped` says the list is longer than `count`."""

    def __init__(self, object_list, per_page, *, count_cap: int, **kwargs) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.count_cap = count_cap

    @cached_property
    def _counted(self) -> int:
        return self.object_list.order_by()[: self.count_cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._counted, self.count_cap)

    @property
    def count_capped(self) -> bool:
        return self._counted > self.count_cap
