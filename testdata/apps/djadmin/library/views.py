from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from .models import Author


def author(request, pk):
    """An author and their books, plain text; 404 once deleted."""
    a = get_object_or_404(Author, pk=pk)
    titles = sorted(b.title for b in a.book_set.all())
    return HttpResponse("%s: %s\n" % (a.name, ", ".join(titles)), content_type="text/plain; charset=utf-8")
