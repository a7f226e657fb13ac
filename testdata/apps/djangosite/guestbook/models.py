from django.db import models


class Entry(models.Model):
    name = models.CharField(max_length=40)
    message = models.CharField(max_length=200)

    class Meta:
        ordering = ["id"]
