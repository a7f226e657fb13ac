"""A small guestbook: one app, one model in SQLite, CSRF-protected forms.

Works with Django 3.2 (Debian 12) and 4.2 (Debian 13). The database is
$GUESTBOOK_DB (the test makes it in a temporary directory with
`manage.py migrate`).
"""
import os

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SECRET_KEY = "warmcgi-testdata-guestbook-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = ["guestbook"]
MIDDLEWARE = ["django.middleware.csrf.CsrfViewMiddleware"]
CSRF_FAILURE_VIEW = "guestbook.views.csrf_failure"
ROOT_URLCONF = "djangosite.urls"
WSGI_APPLICATION = "djangosite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(BASE_DIR, "templates")],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.csrf"]},
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("GUESTBOOK_DB", os.path.join(BASE_DIR, "guestbook.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
