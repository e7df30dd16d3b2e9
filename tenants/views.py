from django.http import HttpResponse


def invitation_accept_view(request, token: str):
    return HttpResponse(status=501)
