# Helper module imported by helper_user.py; not a script itself.
SITE_NAME = "Example Site"


def greeting(who):
    return "Welcome to %s, %s!" % (SITE_NAME, who)
