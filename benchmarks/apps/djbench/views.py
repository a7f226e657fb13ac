"""Views of the benchmark project; the measured page is item_list."""
import datetime

from django.http import Http404
from django.shortcuts import render

CATEGORIES = ["tools", "books", "garden", "kitchen", "toys"]
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def _items(n=100):
    return [
        {
            "pk": i,
            "name": "Item %d <%s>" % (i, CATEGORIES[i % 5]),
            "category": CATEGORIES[i % 5],
            "price": 3.5 + i * 1.25,
            "stock": (i * 7) % 13,
            "added": START + datetime.timedelta(days=i, hours=i % 24),
            "tags": ["t%d" % (i % 3), "t%d" % (i % 4)],
        }
        for i in range(n)
    ]


def index(request):
    return render(request, "djbench/index.html", {"title": "Home"})


def item_list(request):
    items = _items()
    return render(request, "djbench/items.html", {
        "title": "Items",
        "items": items,
        "total": sum(it["price"] for it in items),
        "marker": "warmcgi-bench-django",
    })


def item_detail(request, pk):
    if not 0 <= pk < 100:
        raise Http404("no such item")
    return render(request, "djbench/detail.html", {"title": "Item %d" % pk, "item": _items()[pk]})


def about(request):
    return render(request, "djbench/index.html", {"title": "About"})
