from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render

from .forms import EntryForm
from .models import Entry


def index(request):
    """The guestbook's entries, oldest first (a template over the model)."""
    return render(request, "guestbook/index.html", {"entries": Entry.objects.all()})


def sign(request):
    """The form (GET) and a new entry (POST, CSRF-checked by the middleware)."""
    if request.method == "POST":
        form = EntryForm(request.POST)
        if form.is_valid():
            Entry.objects.create(**form.cleaned_data)
            return redirect("index")
    else:
        form = EntryForm()
    return render(request, "guestbook/sign.html", {"form": form})


def square(request, n):
    """A view without a model or template: a route parameter, plain text."""
    return HttpResponse("%d squared is %d\n" % (n, n * n), content_type="text/plain; charset=utf-8")


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: the same short answer on every Django version."""
    return HttpResponseForbidden("csrf rejected: %s\n" % reason, content_type="text/plain; charset=utf-8")
