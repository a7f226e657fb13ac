from django import forms


class EntryForm(forms.Form):
    name = forms.CharField(max_length=40)
    message = forms.CharField(max_length=200)
