from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.view import view_config

from .models import Note, Tag, session

# How many requests this module served before the current one: always 0
# under CGI, where every request imports it afresh.
served = 0


def _count():
    global served
    before, served = served, served + 1
    return before


@view_config(route_name="home", renderer="string")
def home(request):
    s = session()
    notes = ["%d %s [%s]" % (n.id, n.text, ",".join(sorted(t.name for t in n.tags)))
             for n in s.query(Note).order_by(Note.id)]
    return "served before: %d\n%s\n" % (_count(), "\n".join(notes))


@view_config(route_name="note", renderer="string")
def note(request):
    s = session()
    n = s.get(Note, int(request.matchdict["id"]))
    if n is None:
        raise HTTPNotFound()
    return "served before: %d\n%s [%s]\n" % (_count(), n.text, ",".join(sorted(t.name for t in n.tags)))


@view_config(route_name="add", request_method="POST")
def add(request):
    s = session()
    n = Note(text=request.POST["text"], tags=[Tag(name=t) for t in request.POST.getall("tag")])
    s.add(n)
    s.commit()
    return HTTPFound(location=request.route_path("note", id=n.id))


@view_config(route_name="delete", request_method="POST")
def delete(request):
    s = session()
    n = s.get(Note, int(request.matchdict["id"]))
    if n is None:
        raise HTTPNotFound()
    s.delete(n)
    s.commit()
    left = s.query(Tag).filter(Tag.note_id == int(request.matchdict["id"])).count()
    return HTTPFound(location=request.route_path("home") + "?tags_left=%d" % left)
