"""A project middleware that imports the app's models (as many do): it
adds the number of authors to every response."""
from .models import Author


class CountHeader:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response["X-Authors"] = str(Author.objects.count())
        return response
